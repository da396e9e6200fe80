"""The Zoho CRM sandbox's record store: one organisation's Contacts and Zoho's paging over them.

No HTTP here (`sandbox_crm.py` puts it on the wire); this module holds what an organisation
*is* — users, accounts, contacts, deleted records, page tokens — and the rules Zoho applies to
reading and writing them (provider-apis.md §A4–A6).

Why it is built this way:
- Compact, so a benchmark can page 200,000 contacts: contacts are numpy columns (id, times,
  owner…) plus small integer choices (first name, title, city…). A generated contact's text is
  derived from those choices and its row number, so seeding 100,000 contacts takes
  milliseconds and costs a few MB; only contacts written after seeding keep their own values.
- Fast pages: a page is rendered column by column into JSON fragments (`"Email":"…"`) joined
  into the body — no dict per record and no `json.dumps` of the page.
- Stable paging while the client pages and others write: results are ordered by the sort key,
  ties by id, and a page token holds the keyset position (sort key, id) of the last record it
  served, not an offset. The ordered view of a query is cached until the next write.
- Deterministic: `seed(count, seed=…)` always produces the same names, times and ids for an org.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import secrets
import threading
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from json.encoder import encode_basestring
from typing import Any, Literal
from zoneinfo import ZoneInfo

import numpy as np

MODULE = "Contacts"
MAX_PER_PAGE = 200
MAX_FIELDS = 50
MAX_UPSERT_RECORDS = 100
DISCRETE_PAGE_LIMIT = 2000
SORT_KEYS: tuple[str, ...] = ("id", "Created_Time", "Modified_Time")
SORT_ORDERS: tuple[str, ...] = ("desc", "asc")
DELETED_TYPES: tuple[str, ...] = ("all", "recycle", "permanent")
DUPLICATE_CHECK_FIELDS: tuple[str, ...] = ("Email",)  # Contacts' system-defined unique field
DAY = 86_400

DeletedType = Literal["recycle", "permanent"]


def error_body(code: str, message: str, details: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Zoho's error shape, for a whole request or one record: `{"code","details","message","status"}`."""
    return {"code": code, "details": dict(details or {}), "message": message, "status": "error"}


class CrmError(Exception):
    """A request Zoho refuses as a whole; rendered as `{"code","details","message","status":"error"}`."""

    def __init__(self, status: int, code: str, message: str, details: Mapping[str, Any] | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.details: dict[str, Any] = dict(details or {})

    def body(self) -> dict[str, Any]:
        return error_body(self.code, self.message, self.details)


def invalid_param(name: str, **details: Any) -> CrmError:
    return CrmError(400, "INVALID_DATA", "invalid data", {"param_name": name, **details})


def required_param_missing(name: str) -> CrmError:
    return CrmError(400, "REQUIRED_PARAM_MISSING", "required param is missing", {"param_name": name})


def _token_mismatch() -> CrmError:
    return CrmError(
        400,
        "TOKEN_BOUND_DATA_MISMATCH",
        "The page_token given seems to be invalid or input param is added or altered or deleted",
        {"param_name": "page_token"},
    )


# -- the modules' schemas ----------------------------------------------------------------------

DataType = Literal[
    "text", "textarea", "email", "phone", "website", "picklist", "integer", "currency", "date", "datetime",
    "lookup", "ownerlookup",
]  # fmt: skip
_JSON_TYPES: dict[str, str] = {
    "integer": "integer", "currency": "double", "lookup": "jsonobject", "ownerlookup": "jsonobject",
}  # fmt: skip


@dataclass(frozen=True)
class FieldSpec:
    """One field of a module, as `GET /settings/fields` describes it."""

    api_name: str
    label: str
    data_type: DataType
    length: int | None = None
    mandatory: bool = False
    read_only: bool = False
    lookup_module: str | None = None
    pick_list: tuple[str, ...] = ()

    @property
    def json_type(self) -> str:
        return _JSON_TYPES.get(self.data_type, "string")


CONTACT_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("Owner", "Contact Owner", "ownerlookup", 120, lookup_module="users"),
    FieldSpec("First_Name", "First Name", "text", 40),
    FieldSpec("Last_Name", "Last Name", "text", 80, mandatory=True),
    FieldSpec("Full_Name", "Full Name", "text", 121, read_only=True),
    FieldSpec("Email", "Email", "email", 100),
    FieldSpec("Secondary_Email", "Secondary Email", "email", 100),
    FieldSpec("Phone", "Phone", "phone", 30),
    FieldSpec("Mobile", "Mobile", "phone", 30),
    FieldSpec("Title", "Title", "text", 100),
    FieldSpec("Department", "Department", "text", 100),
    FieldSpec("Account_Name", "Account Name", "lookup", lookup_module="Accounts"),
    FieldSpec("Mailing_City", "Mailing City", "text", 100),
    FieldSpec("Mailing_Country", "Mailing Country", "text", 100),
    FieldSpec("Created_Time", "Created Time", "datetime", read_only=True),
    FieldSpec("Modified_Time", "Modified Time", "datetime", read_only=True),
    FieldSpec("Created_By", "Created By", "ownerlookup", read_only=True, lookup_module="users"),
    FieldSpec("Modified_By", "Modified By", "ownerlookup", read_only=True, lookup_module="users"),
)
_SYSTEM_FIELDS: tuple[FieldSpec, ...] = CONTACT_FIELDS[-4:]  # Created/Modified Time and By, in every module
_INDUSTRIES = ("-None-", "Technology", "Finance", "Healthcare", "Manufacturing", "Retail", "Education")
_LEAD_SOURCES = ("-None-", "Advertisement", "Cold Call", "Employee Referral", "Partner", "Web Download", "Trade Show")
_LEAD_STATUSES = ("-None-", "Not Contacted", "Attempted to Contact", "Contacted", "Junk Lead", "Lost Lead")
_DEAL_STAGES = (
    "Qualification", "Needs Analysis", "Proposal/Price Quote", "Negotiation/Review", "Closed Won", "Closed Lost",
)  # fmt: skip
# The other standard modules a client (Zoho's SDK, a field-mapping screen) asks metadata of; only
# Contacts holds records in the sandbox.
MODULE_FIELDS: dict[str, tuple[FieldSpec, ...]] = {
    "Contacts": CONTACT_FIELDS,
    "Accounts": (
        FieldSpec("Owner", "Account Owner", "ownerlookup", 120, lookup_module="users"),
        FieldSpec("Account_Name", "Account Name", "text", 200, mandatory=True),
        FieldSpec("Account_Number", "Account Number", "text", 40),
        FieldSpec("Parent_Account", "Parent Account", "lookup", lookup_module="Accounts"),
        FieldSpec("Website", "Website", "website", 255),
        FieldSpec("Phone", "Phone", "phone", 30),
        FieldSpec("Industry", "Industry", "picklist", 120, pick_list=_INDUSTRIES),
        FieldSpec("Employees", "Employees", "integer", 9),
        FieldSpec("Annual_Revenue", "Annual Revenue", "currency", 16),
        FieldSpec("Billing_City", "Billing City", "text", 30),
        FieldSpec("Billing_Country", "Billing Country", "text", 30),
        FieldSpec("Description", "Description", "textarea", 32000),
        *_SYSTEM_FIELDS,
    ),
    "Leads": (
        FieldSpec("Owner", "Lead Owner", "ownerlookup", 120, lookup_module="users"),
        FieldSpec("First_Name", "First Name", "text", 40),
        FieldSpec("Last_Name", "Last Name", "text", 80, mandatory=True),
        FieldSpec("Full_Name", "Full Name", "text", 121, read_only=True),
        FieldSpec("Company", "Company", "text", 200),
        FieldSpec("Designation", "Title", "text", 100),
        FieldSpec("Email", "Email", "email", 100),
        FieldSpec("Phone", "Phone", "phone", 30),
        FieldSpec("Mobile", "Mobile", "phone", 30),
        FieldSpec("Lead_Source", "Lead Source", "picklist", 120, pick_list=_LEAD_SOURCES),
        FieldSpec("Lead_Status", "Lead Status", "picklist", 120, pick_list=_LEAD_STATUSES),
        FieldSpec("Industry", "Industry", "picklist", 120, pick_list=_INDUSTRIES),
        FieldSpec("City", "City", "text", 100),
        FieldSpec("Country", "Country", "text", 100),
        *_SYSTEM_FIELDS,
    ),
    "Deals": (
        FieldSpec("Owner", "Deal Owner", "ownerlookup", 120, lookup_module="users"),
        FieldSpec("Deal_Name", "Deal Name", "text", 120, mandatory=True),
        FieldSpec("Account_Name", "Account Name", "lookup", lookup_module="Accounts"),
        FieldSpec("Contact_Name", "Contact Name", "lookup", lookup_module="Contacts"),
        FieldSpec("Amount", "Amount", "currency", 16),
        FieldSpec("Stage", "Stage", "picklist", 120, mandatory=True, pick_list=_DEAL_STAGES),
        FieldSpec("Closing_Date", "Closing Date", "date", mandatory=True),
        FieldSpec("Probability", "Probability (%)", "integer", 3),
        FieldSpec("Type", "Type", "picklist", 120, pick_list=("-None-", "Existing Business", "New Business")),
        FieldSpec("Lead_Source", "Lead Source", "picklist", 120, pick_list=_LEAD_SOURCES),
        FieldSpec("Description", "Description", "textarea", 32000),
        *_SYSTEM_FIELDS,
    ),
}
MODULE_NAMES: tuple[str, ...] = tuple(MODULE_FIELDS)
USER_TYPES: tuple[str, ...] = (
    "AllUsers", "ActiveUsers", "DeactiveUsers", "ConfirmedUsers", "NotConfirmedUsers", "DeletedUsers",
    "ActiveConfirmedUsers", "AdminUsers", "ActiveConfirmedAdmins", "CurrentUser",
)  # fmt: skip
"""`GET /users?type=`; every sandbox user is active and confirmed, and only the org's first one is an admin."""
FIELDS_BY_NAME: dict[str, FieldSpec] = {spec.api_name: spec for spec in CONTACT_FIELDS}
FIELD_NAMES: tuple[str, ...] = tuple(FIELDS_BY_NAME)
# Free-text fields: derived for a generated contact, stored per contact once it has been written.
TEXT_FIELDS: tuple[str, ...] = (
    "First_Name", "Last_Name", "Email", "Secondary_Email", "Phone", "Mobile", "Title", "Department",
    "Mailing_City", "Mailing_Country",
)  # fmt: skip
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_PHONE = re.compile(r"[0-9+()\-. ]+")

# -- what the generator draws from ------------------------------------------------------------

FIRST_NAMES: tuple[str, ...] = (
    "James", "Mary", "John", "Patricia", "Robert", "Jennifer", "Michael", "Linda", "William", "Elizabeth",
    "David", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah", "Charles", "Karen",
    "Priya", "Arjun", "Ananya", "Rahul", "Wei", "Mei", "Hiroshi", "Yuki", "Olga", "Ivan", "Fatima", "Omar",
    "José", "María", "Zoë", "Søren", "Chloé", "Björn", "Noël", "Renée", "Amélie", "Łukasz", "Ça", "Jürgen",
    "Aisha", "Kwame", "Lars", "Ingrid", "Mateo", "Lucía", "Sven", "Freya", "Nikhil", "Deepa", "Kenji", "Sora",
)  # fmt: skip
LAST_NAMES: tuple[str, ...] = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez",
    "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson", "Martin",
    "Boyle", "O'Brien", "Patel", "Sharma", "Iyer", "Chen", "Wang", "Tanaka", "Suzuki", "Müller", "Schmidt",
    "Dubois", "Lefèvre", "Rossi", "Nowak", "Kowalski", "Petrov", "Ivanova", "Haddad", "Nguyen", "Kim",
    "Silva", "Santos", "Jensen", "Larsen", "Okafor", "Mensah", "da Costa", "van der Berg", "Ó Súilleabháin",
)  # fmt: skip
TITLES: tuple[str | None, ...] = (
    None, "Software Engineer", "Senior Software Engineer", "Engineering Manager", "Product Manager",
    "Data Scientist", "Designer", "Recruiter", "Talent Partner", "Head of People", "CTO", "VP Engineering",
    "Account Executive", "Sales Manager", "QA Engineer", "DevOps Engineer", "Support Specialist",
)  # fmt: skip
DEPARTMENTS: tuple[str | None, ...] = (
    None, "Engineering", "Product", "Design", "People", "Sales", "Marketing", "Finance", "Operations",
)  # fmt: skip
CITIES: tuple[tuple[str, str], ...] = (
    ("Austin", "United States"), ("New York", "United States"), ("San Francisco", "United States"),
    ("Toronto", "Canada"), ("London", "United Kingdom"), ("Berlin", "Germany"), ("München", "Germany"),
    ("Paris", "France"), ("Amsterdam", "Netherlands"), ("Chennai", "India"), ("Bengaluru", "India"),
    ("Tokyo", "Japan"), ("Sydney", "Australia"), ("São Paulo", "Brazil"), ("Riyadh", "Saudi Arabia"),
    ("Shanghai", "China"), ("Kraków", "Poland"), ("Dublin", "Ireland"), ("Zürich", "Switzerland"),
    ("Singapore", "Singapore"),
)  # fmt: skip
EMAIL_DOMAINS: tuple[str, ...] = ("example.com", "example.org", "example.net", "mail.example", "corp.example")
ACCOUNT_STEMS: tuple[str, ...] = (
    "Zylker", "Acme", "Globex", "Initech", "Umbrella", "Hooli", "Vandelay", "Stark", "Wayne", "Wonka",
    "Tyrell", "Cyberdyne", "Soylent", "Aperture", "Monarch", "Gringotts", "Oscorp", "Nakatomi", "Massive", "Dunder",
)  # fmt: skip
ACCOUNT_SUFFIXES: tuple[str, ...] = (
    "Inc", "Labs", "Systems", "GmbH", "Ltd", "Group", "Partners", "Technologies", "Corp", "AG",
)  # fmt: skip
USER_NAMES: tuple[str, ...] = ("Patricia Boyle", "Ravi Kumar", "Sofia Rossi", "Kenji Watanabe", "Amara Okafor")
PAGE_TOKEN_TTL = DAY
PAGE_TOKEN_RECORD_LIMIT = 100_000
ORG_CREATED = 1_704_186_000  # 2024-01-02T09:00:00Z: when every sandbox org and its users were "created"

# Per data centre: the organisation's time zone (record times carry its offset), currency, country.
DC_PROFILES: dict[str, tuple[str, str, str]] = {
    "us": ("America/Los_Angeles", "US Dollar - USD", "US"),
    "eu": ("Europe/Berlin", "Euro - EUR", "DE"),
    "in": ("Asia/Kolkata", "Indian Rupee - INR", "IN"),
    "au": ("Australia/Sydney", "Australian Dollar - AUD", "AU"),
    "jp": ("Asia/Tokyo", "Japanese Yen - JPY", "JP"),
    "ca": ("America/Toronto", "Canadian Dollar - CAD", "CA"),
    "cn": ("Asia/Shanghai", "Chinese Yuan - CNY", "CN"),
    "sa": ("Asia/Riyadh", "Saudi Riyal - SAR", "SA"),
}


def _dumps(value: Any) -> str:
    """Compact JSON, non-ASCII kept (the sandbox answers in UTF-8, as Zoho does)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _slug(text: str) -> str:
    """An ASCII e-mail local part for a name ("Ó Súilleabháin" → "osuilleabhain")."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]", "", ascii_text.lower())


FIRST_SLUGS = tuple(_slug(name) for name in FIRST_NAMES)
LAST_SLUGS = tuple(_slug(name) for name in LAST_NAMES)


@dataclass(frozen=True)
class CrmUser:
    id: str
    name: str
    email: str

    def lookup(self) -> dict[str, str]:
        return {"name": self.name, "id": self.id, "email": self.email}

    def reference(self) -> dict[str, str]:
        """How deleted records and write results name a user (no email)."""
        return {"name": self.name, "id": self.id}


@dataclass(frozen=True)
class CrmAccount:
    id: str
    name: str

    def lookup(self) -> dict[str, str]:
        return {"name": self.name, "id": self.id}


@dataclass(frozen=True)
class DeletedRecord:
    id: int
    display_name: str | None
    type: DeletedType
    deleted_time: int
    deleted_by: int | None
    created_by: int | None


@dataclass(frozen=True)
class PagingRules:
    """The page-token switches (`/_sandbox/crm/config`)."""

    token_record_limit: int = PAGE_TOKEN_RECORD_LIMIT
    token_ttl: int = PAGE_TOKEN_TTL


@dataclass(frozen=True)
class RecordQuery:
    """A `GET /Contacts` request, parsed. `None` means "not given" (a page token or the default applies).

    `fields` None = every field (v2 without `fields`). `since` = If-Modified-Since (epoch s).
    `current_version` = v3 or later: the 2,000-record cap on `page`, and page tokens.
    """

    per_page: int = MAX_PER_PAGE
    fields: tuple[str, ...] | None = None
    sort_by: str | None = None
    sort_order: str | None = None
    since: int | None = None
    page: int | None = None
    page_token: str | None = None
    current_version: bool = True


@dataclass(frozen=True)
class Page:
    """A rendered page: `records` are JSON objects; `status` 200, 204 (nothing) or 304 (nothing since)."""

    status: int
    records: list[str]
    info: dict[str, Any]

    def body(self) -> bytes:
        if self.status != 200:
            return b""
        return f'{{"data":[{",".join(self.records)}],"info":{_dumps(self.info)}}}'.encode()


# -- columns -----------------------------------------------------------------------------------

_COLUMN_TYPES: dict[str, type[np.generic]] = {
    "id": np.int64,
    "created": np.int64,
    "modified": np.int64,
    "live": np.bool_,
    "owner": np.uint8,
    "created_by": np.uint8,
    "modified_by": np.uint8,
    "account": np.int16,  # -1: no account
    "first": np.uint16,
    "last": np.uint16,
    "title": np.uint8,
    "department": np.uint8,
    "city": np.uint8,
    "domain": np.uint8,
    "extras": np.uint8,  # bit 1: has a mobile, bit 2: has a secondary e-mail
}
_HAS_MOBILE, _HAS_SECONDARY = 1, 2
_USER_COLUMNS = {"Owner": "owner", "Created_By": "created_by", "Modified_By": "modified_by"}


class _Columns:
    """Growable numpy columns; `self[name]` is a view of the rows in use."""

    def __init__(self) -> None:
        self.size = 0
        self._data = {name: np.zeros(0, dtype) for name, dtype in _COLUMN_TYPES.items()}

    def __getitem__(self, name: str) -> np.ndarray:
        return self._data[name][: self.size]

    def append(self, count: int, values: Mapping[str, np.ndarray | int]) -> np.ndarray:
        """Add `count` rows (columns not in `values` are 0); returns their row numbers."""
        needed = self.size + count
        capacity = len(self._data["id"])
        if needed > capacity:
            capacity = max(needed, 2 * capacity, 1024)
            for name, old in self._data.items():
                grown = np.zeros(capacity, old.dtype)
                grown[: self.size] = old[: self.size]
                self._data[name] = grown
        for name, array in self._data.items():
            array[self.size : needed] = values.get(name, 0)
        rows = np.arange(self.size, needed)
        self.size = needed
        return rows


@dataclass(frozen=True)
class _View:
    """The rows a query matches, ascending by (sort key, id)."""

    keys: np.ndarray
    ids: np.ndarray
    rows: np.ndarray

    def __len__(self) -> int:
        return len(self.rows)

    def rank(self, key: int, record_id: int, *, inclusive: bool) -> int:
        """How many rows sort before (key, id) — or at it too, when `inclusive`."""
        low = int(np.searchsorted(self.keys, key, "left"))
        high = int(np.searchsorted(self.keys, key, "right"))
        side: Literal["left", "right"] = "right" if inclusive else "left"
        return low + int(np.searchsorted(self.ids[low:high], record_id, side))


Binding = tuple[tuple[str, ...] | None, str, str, int | None]
"""What a page chain is bound to: fields, sort_by, sort_order, If-Modified-Since."""


@dataclass(frozen=True)
class _PageToken:
    binding: Binding
    last: tuple[int, int]  # (sort key, id) of the last record served
    served: int  # records the chain has served so far
    expires_at: float
    previous: str | None  # the token that fetched the page before this token's page


@dataclass(frozen=True)
class Change:
    """Validated values for a write; `owner`/`account` are indexes (account -1 clears it)."""

    text: Mapping[str, str | None]
    owner: int | None = None
    account: int | None = None


class OrgContacts:
    """One Zoho organisation: its users, accounts, Contacts, deleted records and page tokens.

    Thread-safe: every public method holds the org's lock (the sandbox serves requests on its
    event-loop thread while the control API and tests act on the same org).
    """

    def __init__(self, org_id: str, *, dc: str, admin: CrmUser, company: str) -> None:
        self.org_id = org_id
        self.dc = dc
        self.company = company
        self.time_zone, self.currency, self.country = DC_PROFILES.get(dc, DC_PROFILES["us"])
        self.tz = ZoneInfo(self.time_zone)
        self._lock = threading.RLock()
        # Record ids: a 7-digit org prefix (below 9,000,000 so ids fit int64) and 12 digits of
        # sequence → 19-digit numeric strings, like Zoho's.
        self._id_base = (1_000_000 + int(org_id) % 8_000_000) * 10**12
        self._next_seq = 3_000_000
        self.users: tuple[CrmUser, ...] = (
            admin,
            *(
                CrmUser(str(self._id_base + 1_000 + n), name, f"{_slug(name.split()[0])}@{_slug(company)}.example")
                for n, name in enumerate(USER_NAMES)
            ),
        )
        self.accounts: tuple[CrmAccount, ...] = tuple(
            CrmAccount(str(self._id_base + 100_000 + n), f"{stem} {suffix}")
            for n, (stem, suffix) in enumerate((s, x) for x in ACCOUNT_SUFFIXES for s in ACCOUNT_STEMS)
        )
        self._user_json = [_dumps(user.lookup()) for user in self.users]
        self._account_json = [_dumps(account.lookup()) for account in self.accounts]
        self._account_by_name = {account.name.casefold(): n for n, account in enumerate(self.accounts)}
        self._columns = _Columns()
        self._written: dict[int, dict[str, str | None]] = {}  # row → its own TEXT_FIELDS values
        self._deleted: list[DeletedRecord] = []
        self._views: dict[tuple[str, int | None], _View] = {}
        self._tokens: dict[str, _PageToken] = {}
        self._token_sweep_at = 1024
        self._email_rows: dict[str, int] | None = None  # casefolded Email → row, built on first upsert

    # -- reading ---------------------------------------------------------------------------------

    @property
    def live_count(self) -> int:
        with self._lock:
            return int(self._columns["live"].sum())

    def format_time(self, epoch: int | float) -> str:
        """ISO 8601 in the org's time zone, to the second, e.g. `2024-03-01T09:30:00+05:30`."""
        return dt.datetime.fromtimestamp(int(epoch), self.tz).isoformat()

    def list_records(self, query: RecordQuery, *, now: float, rules: PagingRules = PagingRules()) -> Page:
        """One page of `GET /Contacts` (provider-apis.md §A4).

        `page` reaches the first 2,000 records (v3+); `page_token` continues from a previous
        page up to `rules.token_record_limit` records. Raises `CrmError` for what Zoho refuses.
        """
        with self._lock:
            if query.page_token is not None:
                return self._page_by_token(query, now, rules)
            page = query.page or 1
            if query.current_version and page * query.per_page > DISCRETE_PAGE_LIMIT:
                raise CrmError(
                    400,
                    "DISCRETE_PAGINATION_LIMIT_EXCEEDED",
                    "You can only get the first 2000 records without using page_token param",
                    {"limit": DISCRETE_PAGE_LIMIT},
                )
            binding: Binding = (query.fields, query.sort_by or "id", query.sort_order or "desc", query.since)
            offset = (page - 1) * query.per_page
            return self._serve(binding, offset, offset, query.per_page, query, now, rules, used_token=None)

    def _page_by_token(self, query: RecordQuery, now: float, rules: PagingRules) -> Page:
        if not query.current_version:
            raise invalid_param("page_token")
        if query.page is not None:
            raise CrmError(
                400,
                "AMBIGUITY_DURING_PROCESSING",
                "ambiguity while processing the request",
                {"ambiguity_due_to": [{"param_name": "page"}, {"param_name": "page_token"}]},
            )
        token = self._tokens.get(query.page_token or "")
        if token is None:
            raise _token_mismatch()
        if now >= token.expires_at:
            details = {"api_name": "page_token", "json_path": "$.query.page_token"}
            raise CrmError(400, "EXPIRED_VALUE", "Page token expired", details)
        _, sort_by, sort_order, since = token.binding
        given = (query.fields, query.sort_by, query.sort_order, query.since)
        if any(value is not None and value != bound for value, bound in zip(given, token.binding, strict=True)):
            raise _token_mismatch()
        if token.served >= rules.token_record_limit:
            raise CrmError(
                400,
                "PAGINATION_LIMIT_EXCEEDED",
                f"You can only get upto {rules.token_record_limit} records using page_token param",
                {"param_name": "page_token"},
            )
        view = self._view(sort_by, since)
        key, record_id = token.last
        if sort_order == "asc":
            start = view.rank(key, record_id, inclusive=True)
        else:
            start = len(view) - view.rank(key, record_id, inclusive=False)
        count = min(query.per_page, rules.token_record_limit - token.served)
        return self._serve(token.binding, start, token.served, count, query, now, rules, used_token=query.page_token)

    def _serve(
        self,
        binding: Binding,
        start: int,
        served: int,
        count: int,
        query: RecordQuery,
        now: float,
        rules: PagingRules,
        *,
        used_token: str | None,
    ) -> Page:
        """Render `count` records from ordinal `start` of the bound query's current result.

        `served` = records this page chain delivered before (for `page` = the offset), which
        numbers the page and counts towards the page-token limit.
        """
        fields, sort_by, sort_order, since = binding
        view = self._view(sort_by, since)
        stop = min(start + count, len(view))
        if stop <= start:
            return Page(304 if since is not None and len(view) == 0 else 204, [], {})
        if sort_order == "asc":
            positions = np.arange(start, stop)
        else:
            positions = np.arange(len(view) - 1 - start, len(view) - 1 - stop, -1)
        more = stop < len(view)
        info: dict[str, Any] = {
            "per_page": query.per_page,
            "count": stop - start,
            "page": served // query.per_page + 1,
            "more_records": more,
        }
        if query.current_version:
            previous = self._tokens[used_token].previous if used_token else None
            next_token = None
            if more:
                last = int(positions[-1])
                next_token = self._issue_token(
                    binding,
                    (int(view.keys[last]), int(view.ids[last])),
                    served + stop - start,
                    now=now,
                    ttl=rules.token_ttl,
                    previous=used_token,
                )
            info |= {
                "sort_by": sort_by,
                "sort_order": sort_order,
                "next_page_token": next_token,
                "previous_page_token": previous,
                "page_token_expiry": self.format_time(now + rules.token_ttl) if next_token else None,
                "call": False,
                "email": False,
            }
        return Page(200, self._render(view.rows[positions], fields or FIELD_NAMES), info)

    def _issue_token(
        self,
        binding: Binding,
        last: tuple[int, int],
        served: int,
        *,
        now: float,
        ttl: int,
        previous: str | None,
    ) -> str:
        if len(self._tokens) >= self._token_sweep_at:
            self._tokens = {value: token for value, token in self._tokens.items() if token.expires_at > now}
            self._token_sweep_at = 2 * len(self._tokens) + 1024
        value = secrets.token_hex(24)
        self._tokens[value] = _PageToken(binding, last, served, now + ttl, previous)
        return value

    def list_deleted(
        self, *, kind: str = "all", page: int = 1, per_page: int = MAX_PER_PAGE, since: int | None = None
    ) -> Page:
        """`GET /Contacts/deleted` (§A5): newest deletion first, plain page numbers."""
        with self._lock:
            matching = [
                record
                for record in reversed(self._deleted)
                if (kind == "all" or record.type == kind) and (since is None or record.deleted_time > since)
            ]
            chunk = matching[(page - 1) * per_page : page * per_page]
            if not chunk:
                return Page(304 if since is not None and not matching else 204, [], {})
            more = page * per_page < len(matching)
            info = {"per_page": per_page, "count": len(chunk), "page": page, "more_records": more}
            return Page(200, [self._deleted_json(record) for record in chunk], info)

    def _deleted_json(self, record: DeletedRecord) -> str:
        def user(index: int | None) -> dict[str, str] | None:
            return None if index is None else self.users[index].reference()

        return _dumps(
            {
                "deleted_by": user(record.deleted_by),
                "id": str(record.id),
                "display_name": record.display_name,
                "type": record.type,
                "created_by": user(record.created_by),
                "deleted_time": self.format_time(record.deleted_time),
            }
        )

    def truth_json(self, fields: Sequence[str] = ()) -> str:
        """Everything a synced store must equal, as JSON: `{"org_id", "contacts": [{"id",
        "Modified_Time", …fields}], "deleted": [{"id", "type", "deleted_time"}]}`."""
        with self._lock:
            rows = np.flatnonzero(self._columns["live"])
            contacts = ",".join(self._render(rows, ("Modified_Time", *fields)))
            deleted = ",".join(
                _dumps({"id": str(r.id), "type": r.type, "deleted_time": self.format_time(r.deleted_time)})
                for r in self._deleted
            )
            return f'{{"org_id":"{self.org_id}","contacts":[{contacts}],"deleted":[{deleted}]}}'

    # -- rendering -------------------------------------------------------------------------------

    def _render(self, rows: np.ndarray, fields: Iterable[str]) -> list[str]:
        columns = [self._fragments(name, rows) for name in ("id", *fields)]
        return ["{" + ",".join(parts) + "}" for parts in zip(*columns, strict=True)]

    def _fragments(self, name: str, rows: np.ndarray) -> list[str]:
        prefix = f'"{name}":'
        if name in _USER_COLUMNS:
            return [prefix + self._user_json[n] for n in self._columns[_USER_COLUMNS[name]][rows].tolist()]
        if name == "Account_Name":
            accounts = self._columns["account"][rows].tolist()
            return [prefix + (self._account_json[n] if n >= 0 else "null") for n in accounts]
        return [prefix + ("null" if value is None else encode_basestring(value)) for value in self._values(name, rows)]

    def _values(self, name: str, rows: np.ndarray) -> list[Any]:
        """The plain values of one field for `rows` (strings, lookups as dicts, None)."""
        columns = self._columns
        match name:
            case "id":
                return [str(value) for value in columns["id"][rows].tolist()]
            case "Created_Time" | "Modified_Time":
                column = "created" if name == "Created_Time" else "modified"
                return [self.format_time(value) for value in columns[column][rows].tolist()]
            case "Owner" | "Created_By" | "Modified_By":
                return [self.users[n].lookup() for n in columns[_USER_COLUMNS[name]][rows].tolist()]
            case "Account_Name":
                return [self.accounts[n].lookup() if n >= 0 else None for n in columns["account"][rows].tolist()]
            case "Full_Name":
                pairs = zip(self._values("First_Name", rows), self._values("Last_Name", rows), strict=True)
                return [" ".join(part for part in pair if part) for pair in pairs]
        values = self._generated(name, rows)
        if self._written:
            for position, row in enumerate(rows.tolist()):
                written = self._written.get(row)
                if written is not None:
                    values[position] = written[name]
        return values

    def _generated(self, name: str, rows: np.ndarray) -> list[str | None]:
        """A seeded contact's text, derived from its choice columns and row number."""
        columns = self._columns
        row_numbers = rows.tolist()
        match name:
            case "First_Name":
                return [FIRST_NAMES[n] for n in columns["first"][rows].tolist()]
            case "Last_Name":
                return [LAST_NAMES[n] for n in columns["last"][rows].tolist()]
            case "Email":
                firsts, lasts, domains = (columns[c][rows].tolist() for c in ("first", "last", "domain"))
                emails = zip(firsts, lasts, row_numbers, domains, strict=True)
                return [f"{FIRST_SLUGS[f]}.{LAST_SLUGS[last]}{r}@{EMAIL_DOMAINS[d]}" for f, last, r, d in emails]
            case "Secondary_Email":
                secondary = zip(
                    columns["last"][rows].tolist(), row_numbers, columns["extras"][rows].tolist(), strict=True
                )
                return [
                    f"{LAST_SLUGS[last]}.{r}@home.example" if x & _HAS_SECONDARY else None for last, r, x in secondary
                ]
            case "Phone":
                return [f"+1-555-{(r * 7919) % 10_000_000:07d}" for r in row_numbers]
            case "Mobile":
                mobiles = zip(row_numbers, columns["extras"][rows].tolist(), strict=True)
                return [
                    f"+1-555-{(r * 104_729 + 17) % 10_000_000:07d}" if x & _HAS_MOBILE else None for r, x in mobiles
                ]
            case "Title":
                return [TITLES[n] for n in columns["title"][rows].tolist()]
            case "Department":
                return [DEPARTMENTS[n] for n in columns["department"][rows].tolist()]
            case "Mailing_City" | "Mailing_Country":
                part = 0 if name == "Mailing_City" else 1
                return [CITIES[n][part] for n in columns["city"][rows].tolist()]
        raise KeyError(name)

    # -- the ordered views -----------------------------------------------------------------------

    def _view(self, sort_by: str, since: int | None) -> _View:
        view = self._views.get((sort_by, since))
        if view is None:
            columns = self._columns
            mask = columns["live"] if since is None else columns["live"] & (columns["modified"] > since)
            rows = np.flatnonzero(mask)
            key_column = {"id": "id", "Created_Time": "created", "Modified_Time": "modified"}[sort_by]
            ids = columns["id"][rows]
            keys = columns[key_column][rows]
            order = np.lexsort((ids, keys))
            view = _View(keys[order], ids[order], rows[order])
            if len(self._views) >= 16:  # one per concurrent query shape is plenty
                self._views.clear()
            self._views[(sort_by, since)] = view
        return view

    def _changed(self) -> None:
        self._views.clear()

    # -- writing ---------------------------------------------------------------------------------

    def seed(self, count: int, *, seed: int = 0, now: float, days: int = 365) -> np.ndarray:
        """Add `count` generated contacts created and last modified over the past `days` (all before
        `now` − 60 s, so a change made now is strictly newer). Returns their rows."""
        with self._lock:
            rng = np.random.default_rng(seed)
            steps = rng.integers(1, 4, count, dtype=np.int64)
            ids = self._id_base + self._next_seq + np.cumsum(steps)
            if count:
                self._next_seq = int(ids[-1] - self._id_base)
            start, end = int(now) - days * DAY, int(now) - 3_600
            created = np.sort(rng.integers(start, end, count, dtype=np.int64))
            modified = created + (rng.random(count) * (int(now) - 60 - created)).astype(np.int64)
            users = len(self.users)
            rows = self._columns.append(
                count,
                {
                    "id": ids,
                    "created": created,
                    "modified": modified,
                    "live": True,
                    "owner": rng.integers(0, users, count),
                    "created_by": rng.integers(0, users, count),
                    "modified_by": rng.integers(0, users, count),
                    "account": np.where(rng.random(count) < 0.1, -1, rng.integers(0, len(self.accounts), count)),
                    "first": rng.integers(0, len(FIRST_NAMES), count),
                    "last": rng.integers(0, len(LAST_NAMES), count),
                    "title": rng.integers(0, len(TITLES), count),
                    "department": rng.integers(0, len(DEPARTMENTS), count),
                    "city": rng.integers(0, len(CITIES), count),
                    "domain": rng.integers(0, len(EMAIL_DOMAINS), count),
                    "extras": (rng.random(count) < 0.5) * _HAS_MOBILE + (rng.random(count) < 0.1) * _HAS_SECONDARY,
                },
            )
            if self._email_rows is not None:
                for row, email in zip(rows.tolist(), self._values("Email", rows), strict=True):
                    self._email_rows.setdefault(email.casefold(), row)
            self._changed()
            return rows

    def validate(self, record: Mapping[str, Any], index: int, *, inserting: bool) -> Change | dict[str, Any]:
        """Check one input record (§A6): a `Change`, or Zoho's per-record error body.

        Read-only fields (Full_Name, times, Created_By…) and unknown names are ignored, as Zoho does.
        """
        errors: list[dict[str, Any]] = []
        text: dict[str, str | None] = {}
        owner: int | None = None
        account: int | None = None

        def error(code: str, message: str, field: str, **details: Any) -> None:
            where = {"api_name": field, "json_path": f"$.data[{index}].{field}"}
            errors.append(error_body(code, message, where | details))

        for name, value in record.items():
            spec = FIELDS_BY_NAME.get(name)
            if spec is None or spec.read_only:
                continue
            if name == "Owner":
                owner = self._user_index(value)
                if owner is None:
                    error("INVALID_DATA", "invalid data", name, expected_data_type="ownerlookup")
            elif name == "Account_Name":
                account = self._account_index(value)
                if account is None:
                    error("INVALID_DATA", "invalid data", name, expected_data_type="lookup")
            elif value is not None and not isinstance(value, str):
                error("INVALID_DATA", "invalid data", name, expected_data_type=spec.data_type)
            elif value is not None and spec.length is not None and len(value) > spec.length:
                error("INVALID_DATA", "invalid data", name, maximum_length=spec.length)
            elif value and spec.data_type == "email" and not _EMAIL.fullmatch(value):
                error("INVALID_DATA", "invalid data", name, expected_data_type="email")
            elif value and spec.data_type == "phone" and not _PHONE.fullmatch(value):
                error("INVALID_DATA", "invalid data", name, expected_data_type="phone")
            else:
                text[name] = value or None
        if (
            ("Last_Name" in record or inserting)
            and not text.get("Last_Name")
            and not any(e["details"]["api_name"] == "Last_Name" for e in errors)
        ):
            error("MANDATORY_NOT_FOUND", "required field not found", "Last_Name")
        if len(errors) > 1:
            return error_body("MULTIPLE_OR_MULTI_ERRORS", "multiple errors", {"errors": errors})
        if errors:
            return errors[0]
        return Change(text=text, owner=owner, account=account)

    def create(self, change: Change, *, actor: int, now: float) -> int:
        """Insert one contact as user `actor` (an index into `users`); returns its row."""
        with self._lock:
            self._next_seq += 1 + secrets.randbelow(3)
            moment = int(now)
            row = int(
                self._columns.append(
                    1,
                    {
                        "id": self._id_base + self._next_seq,
                        "created": moment,
                        "modified": moment,
                        "live": True,
                        "owner": actor if change.owner is None else change.owner,
                        "created_by": actor,
                        "modified_by": actor,
                        "account": -1 if change.account is None else change.account,
                    },
                )[0]
            )
            self._written[row] = dict.fromkeys(TEXT_FIELDS)
            self._apply(row, change)
            return row

    def update(self, row: int, change: Change, *, actor: int, now: float) -> None:
        """Edit one live contact as user `actor`: its Modified_Time becomes `now`."""
        with self._lock:
            if row not in self._written:
                rows = np.array([row])
                self._written[row] = {name: self._values(name, rows)[0] for name in TEXT_FIELDS}
            columns = self._columns
            columns["modified"][row] = int(now)
            columns["modified_by"][row] = actor
            if change.owner is not None:
                columns["owner"][row] = change.owner
            if change.account is not None:
                columns["account"][row] = change.account
            self._apply(row, change)

    def _apply(self, row: int, change: Change) -> None:
        written = self._written[row]
        old_email = written["Email"]
        written.update(change.text)
        if self._email_rows is not None and written["Email"] != old_email:
            if old_email and self._email_rows.get(old_email.casefold()) == row:
                del self._email_rows[old_email.casefold()]
            if written["Email"]:
                self._email_rows.setdefault(written["Email"].casefold(), row)
        self._changed()

    def delete(self, rows: Iterable[int], *, actor: int, now: float, permanent: bool = False) -> list[str]:
        """Delete live contacts as user `actor`: to the recycle bin, or permanently. Returns their ids."""
        with self._lock:
            rows = np.array([row for row in rows if self._columns["live"][row]], dtype=np.int64)
            if len(rows) == 0:
                return []
            names = self._values("Full_Name", rows)
            emails = self._values("Email", rows)
            columns = self._columns
            columns["live"][rows] = False
            ids, creators = columns["id"][rows].tolist(), columns["created_by"][rows].tolist()
            entries = zip(rows.tolist(), ids, names, creators, emails, strict=True)
            for row, record_id, name, created_by, email in entries:
                self._deleted.append(
                    DeletedRecord(
                        id=record_id,
                        display_name=None if permanent else name,
                        type="permanent" if permanent else "recycle",
                        deleted_time=int(now),
                        deleted_by=None if permanent else actor,
                        created_by=None if permanent else created_by,
                    )
                )
                if self._email_rows is not None and email and self._email_rows.get(email.casefold()) == row:
                    del self._email_rows[email.casefold()]
            self._changed()
            return [str(record_id) for record_id in columns["id"][rows].tolist()]

    def pick_live(self, count: int, *, seed: int | None) -> np.ndarray:
        """`count` distinct random live rows (all of them when fewer), reproducible with a seed."""
        with self._lock:
            live = np.flatnonzero(self._columns["live"])
            rng = np.random.default_rng(seed)
            return np.sort(rng.choice(live, size=min(count, len(live)), replace=False))

    def edit_random(self, count: int, *, seed: int | None, actor: int, now: float) -> list[str]:
        """Edit `count` random live contacts (new Title and Mobile); returns their ids."""
        with self._lock:
            rows = self.pick_live(count, seed=seed)
            rng = np.random.default_rng(seed)
            titles = [title for title in TITLES if title]
            picks = rng.integers(0, len(titles), len(rows)).tolist()
            numbers = rng.integers(0, 10_000_000, len(rows)).tolist()
            for row, pick, number in zip(rows.tolist(), picks, numbers, strict=True):
                change = Change(text={"Title": titles[pick], "Mobile": f"+1-555-{number:07d}"})
                self.update(row, change, actor=actor, now=now)
            return [str(record_id) for record_id in self._columns["id"][rows].tolist()]

    def upsert(
        self, records: Sequence[Any], *, duplicate_check_fields: Sequence[str], actor: int, now: float
    ) -> list[dict[str, Any]]:
        """`POST /Contacts/upsert` (§A6): per-record results, matching on `duplicate_check_fields`."""
        with self._lock:
            results: list[dict[str, Any]] = []
            for index, record in enumerate(records):
                if not isinstance(record, dict):
                    details = {"expected_data_type": "jsonobject", "api_name": "data", "json_path": f"$.data[{index}]"}
                    results.append(error_body("INVALID_DATA", "invalid data", details))
                    continue
                match = self._duplicate_of(record, duplicate_check_fields)
                change = self.validate(record, index, inserting=match is None)
                if isinstance(change, dict):
                    results.append(change)
                    continue
                duplicate_field: str | None
                if match is not None:
                    row, duplicate_field = match
                    self.update(row, change, actor=actor, now=now)
                    action, message = "update", "record updated"
                else:
                    row = self.create(change, actor=actor, now=now)
                    duplicate_field = next((f for f in duplicate_check_fields if record.get(f)), None)
                    action, message = "insert", "record added"
                results.append(
                    {
                        "code": "SUCCESS",
                        "duplicate_field": duplicate_field,
                        "action": action,
                        "details": self._write_details(row),
                        "message": message,
                        "status": "success",
                    }
                )
            return results

    def _write_details(self, row: int) -> dict[str, Any]:
        columns = self._columns
        return {
            "Modified_Time": self.format_time(columns["modified"][row]),
            "Modified_By": self.users[columns["modified_by"][row]].reference(),
            "Created_Time": self.format_time(columns["created"][row]),
            "id": str(columns["id"][row]),
            "Created_By": self.users[columns["created_by"][row]].reference(),
        }

    def _duplicate_of(self, record: Mapping[str, Any], fields: Sequence[str]) -> tuple[int, str] | None:
        if self._email_rows is None:
            live = np.flatnonzero(self._columns["live"])
            self._email_rows = {}
            for row, email in zip(live.tolist(), self._values("Email", live), strict=True):
                if email:
                    self._email_rows.setdefault(email.casefold(), row)
        for field in fields:
            value = record.get(field)
            found = self._email_rows.get(value.casefold()) if isinstance(value, str) and value else None
            if found is not None:
                return found, field
        return None

    # -- lookups ---------------------------------------------------------------------------------

    def row_of(self, record_id: str) -> int:
        """The row of a live contact; KeyError for an unknown or deleted id."""
        with self._lock:
            return self._row(record_id)

    def _row(self, record_id: str) -> int:
        ids = self._columns["id"]
        try:
            wanted = int(record_id)
        except ValueError:
            raise KeyError(record_id) from None
        row = int(np.searchsorted(ids, wanted))  # ids only ever grow, so the column is sorted
        if row >= len(ids) or ids[row] != wanted or not self._columns["live"][row]:
            raise KeyError(record_id)
        return row

    def summary(self, row: int) -> dict[str, str]:
        """`{"id", "Modified_Time"}` of a row, what a control write answers."""
        with self._lock:
            modified = self.format_time(self._columns["modified"][row])
            return {"id": str(self._columns["id"][row]), "Modified_Time": modified}

    def _user_index(self, value: Any) -> int | None:
        wanted = value.get("id") if isinstance(value, dict) else None
        return next((n for n, user in enumerate(self.users) if user.id == str(wanted)), None)

    def _account_index(self, value: Any) -> int | None:
        if value is None:
            return -1
        if isinstance(value, str):
            return self._account_by_name.get(value.casefold())
        if isinstance(value, dict):
            if value.get("id") is not None:
                return next((n for n, account in enumerate(self.accounts) if account.id == str(value["id"])), None)
            if isinstance(value.get("name"), str):
                return self._account_by_name.get(value["name"].casefold())
        return None

    # -- metadata ----------------------------------------------------------------------------------

    def org_json(self) -> dict[str, Any]:
        """`GET /org` (a realistic subset of Zoho's fields)."""
        admin = self.users[0]
        slug = _slug(self.company) or "org"
        return {
            "org": [
                {
                    "id": self.org_id,
                    "company_name": self.company,
                    "alias": slug,
                    "domain_name": f"org{self.org_id}",
                    "primary_email": admin.email,
                    "primary_zuid": admin.id,
                    "zgid": self.org_id,
                    "time_zone": self.time_zone,
                    "currency": self.currency,
                    "currency_locale": f"en_{self.country}",
                    "iso_code": self.currency.rsplit(" ", 1)[-1],
                    "country_code": self.country,
                    "type": "production",
                    "max_per_page": MAX_PER_PAGE,
                    "mc_status": False,
                    "gapps_enabled": False,
                    "license_details": {
                        "paid": True,
                        "paid_type": "enterprise",
                        "users_license_purchased": len(self.users),
                    },
                }
            ]
        }

    def module_id(self, module: str) -> str:
        return str(self._id_base + 3_000 + MODULE_NAMES.index(module))

    def fields_json(self, module: str = MODULE) -> dict[str, Any]:
        """`GET /settings/fields?module=` of a module of `MODULE_FIELDS` (field ids stable per org)."""
        fields = []
        base = self._id_base + 2_000 + 100 * MODULE_NAMES.index(module)
        for number, spec in enumerate(MODULE_FIELDS[module]):
            field_id = str(base + number)
            lookup: dict[str, Any] = {}
            if spec.data_type == "lookup" and spec.lookup_module:
                lookup = {
                    "display_label": spec.label,
                    "api_name": spec.api_name,
                    "module": {"api_name": spec.lookup_module, "id": self.module_id(spec.lookup_module)},
                    "id": field_id,
                }
            pick_list = [
                {"display_value": value, "actual_value": value, "sequence_number": n + 1, "id": f"{field_id}{n:03d}"}
                for n, value in enumerate(spec.pick_list)
            ]
            fields.append(
                {
                    "api_name": spec.api_name,
                    "id": field_id,
                    "field_label": spec.label,
                    "display_label": spec.label,
                    "data_type": spec.data_type,
                    "json_type": spec.json_type,
                    "length": spec.length,
                    "system_mandatory": spec.mandatory,
                    "read_only": spec.read_only,
                    "field_read_only": spec.read_only,
                    "custom_field": False,
                    "visible": True,
                    "sortable": spec.api_name in SORT_KEYS,
                    "lookup": lookup,
                    "pick_list_values": pick_list,
                }
            )
        return {"fields": fields}

    def users_json(self, kind: str, *, current_user_id: str, page: int, per_page: int) -> dict[str, Any] | None:
        """`GET /users?type=kind` (see `USER_TYPES`), as the token's user `current_user_id` sees it;
        None when no user matches (Zoho answers 204)."""
        if kind == "CurrentUser":
            users = [user for user in self.users if user.id == current_user_id] or [self.users[0]]
        elif kind in ("AdminUsers", "ActiveConfirmedAdmins"):
            users = [self.users[0]]
        elif kind in ("DeactiveUsers", "NotConfirmedUsers", "DeletedUsers"):
            users = []
        else:
            users = list(self.users)
        shown = users[(page - 1) * per_page : page * per_page]
        if not shown:
            return None
        return {
            "users": [self._user_json_of(user) for user in shown],
            "info": {
                "per_page": per_page,
                "count": len(shown),
                "page": page,
                "more_records": page * per_page < len(users),
            },
        }

    def _user_json_of(self, user: CrmUser) -> dict[str, Any]:
        """One user as the users API shows it (the OAS example's fields)."""
        admin = user.id == self.users[0].id
        first, _, last = user.name.partition(" ")
        role = ("CEO", 861) if admin else ("Manager", 862)
        profile = ("Administrator", 497) if admin else ("Standard", 498)
        created = self.format_time(ORG_CREATED)
        by = self.users[0].reference()
        return {
            "role": {"name": role[0], "id": str(self._id_base + role[1])},
            "profile": {"name": profile[0], "id": str(self._id_base + profile[1])},
            "id": user.id,
            "zuid": str(int(user.id) % 100_000_000),
            "first_name": first or None,
            "last_name": last or first,
            "full_name": user.name,
            "email": user.email,
            "alias": None,
            "phone": None,
            "mobile": None,
            "status": "active",
            "confirm": True,
            "type__s": "Regular User",
            "locale": f"en_{self.country}",
            "country_locale": self.country,
            "language": "en_US",
            "time_zone": self.time_zone,
            "time_format": "hh:mm a",
            "date_format": "MM/dd/yyyy",
            "decimal_separator": "Period",
            "sandboxDeveloper": False,
            "microsoft": False,
            "Isonline": False,
            "Reporting_To": None,
            "status_reason__s": None,
            "created_by": by,
            "Modified_By": by,
            "created_time": created,
            "Modified_Time": created,
        }
