"""Launching a tenant's partition run through Dagster's GraphQL API (what the Lineup backend does too).

Two calls: `addDynamicPartition` first — Dagster runs the asset body of a run launched for an
unknown partition key before failing — then the run, with the partition as the
`dagster/partition` tag (the GraphQL client has no partition argument) plus the `tenant` and
`provider` tags the run queue limits by.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
from dagster_graphql import DagsterGraphQLClient, DagsterGraphQLClientError

from lineup_integrations.orchestration.partitions import TENANTS_PARTITION_SET

REPOSITORIES_QUERY = """
query Repositories { repositoriesOrError { __typename
  ... on RepositoryConnection { nodes { name location { name } jobs { name } } }
  ... on PythonError { message } } }
"""

ADD_PARTITION_MUTATION = """
mutation AddTenant($repositorySelector: RepositorySelector!, $partitionsDefName: String!, $partitionKey: String!) {
  addDynamicPartition(repositorySelector: $repositorySelector, partitionsDefName: $partitionsDefName,
                      partitionKey: $partitionKey) {
    __typename
    ... on AddDynamicPartitionSuccess { partitionKey }
    ... on DuplicateDynamicPartitionError { partitionName }
    ... on UnauthorizedError { message }
    ... on PythonError { message }
  }
}
"""


class DagsterLaunchError(RuntimeError):
    """Dagster could not be reached or refused the launch; the message is safe to show."""


@dataclass(frozen=True)
class RepositoryLocation:
    location_name: str
    repository_name: str


class DagsterRunLauncher:
    """Launches partition runs on the Dagster webserver at `graphql_url` (e.g. http://127.0.0.1:3000/graphql)."""

    def __init__(self, graphql_url: str, *, timeout: float = 30.0) -> None:
        self.graphql_url = graphql_url
        self.timeout = timeout
        parts = urlsplit(graphql_url)
        self._client = DagsterGraphQLClient(
            parts.hostname or "127.0.0.1", port_number=parts.port, use_https=parts.scheme == "https",
            timeout=int(timeout), path_prefix=parts.path.removesuffix("/graphql").rstrip("/"),
        )  # fmt: skip

    def _graphql(self, query: str, variables: Mapping[str, Any] | None = None) -> dict[str, Any]:
        try:
            response = httpx.post(self.graphql_url, json={"query": query, "variables": dict(variables or {})},
                                  timeout=self.timeout)
            response.raise_for_status()
        except httpx.HTTPError as error:
            raise DagsterLaunchError(f"Dagster's GraphQL API is unreachable at {self.graphql_url}: {type(error).__name__}") from None
        body = response.json()
        if body.get("errors"):
            raise DagsterLaunchError(f"Dagster's GraphQL API answered an error: {body['errors'][0].get('message')}")
        return body["data"]

    def locate_job(self, job_name: str) -> RepositoryLocation:
        data = self._graphql(REPOSITORIES_QUERY)["repositoriesOrError"]
        if data["__typename"] != "RepositoryConnection":
            raise DagsterLaunchError(f"Dagster could not list its code locations: {data.get('message', '')}")
        for node in data["nodes"]:
            if any(job["name"] == job_name for job in node["jobs"]):
                return RepositoryLocation(node["location"]["name"], node["name"])
        raise DagsterLaunchError(f"no Dagster code location has the job {job_name!r}")

    def ensure_partition(self, where: RepositoryLocation, partition_key: str) -> None:
        """Add the tenant's partition key; one that exists already is fine."""
        result = self._graphql(ADD_PARTITION_MUTATION, {
            "repositorySelector": {"repositoryLocationName": where.location_name, "repositoryName": where.repository_name},
            "partitionsDefName": TENANTS_PARTITION_SET,
            "partitionKey": partition_key,
        })["addDynamicPartition"]  # fmt: skip
        if result["__typename"] not in ("AddDynamicPartitionSuccess", "DuplicateDynamicPartitionError"):
            raise DagsterLaunchError(f"Dagster refused the tenant partition: {result.get('message', result['__typename'])}")

    def launch_partition_run(self, job_name: str, partition_key: str, *, tags: Mapping[str, str],
                             run_config: Mapping[str, Any] | None = None) -> str:
        """Launch `job_name` for one partition and return the run id."""
        where = self.locate_job(job_name)
        self.ensure_partition(where, partition_key)
        try:
            return self._client.submit_job_execution(
                job_name, repository_location_name=where.location_name, repository_name=where.repository_name,
                run_config=dict(run_config or {}), tags={**tags, "dagster/partition": partition_key},
            )  # fmt: skip
        except DagsterGraphQLClientError as error:
            raise DagsterLaunchError(f"Dagster refused the run: {error.args[0] if error.args else 'unknown error'}") from None
