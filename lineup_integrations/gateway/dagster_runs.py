"""Launching a tenant's partition run through Dagster's GraphQL API (what the Lineup backend does too).

Two calls: `addDynamicPartition` first — Dagster runs the asset body of a run launched for an
unknown partition key before failing — then `launchRun`, with the partition as the
`dagster/partition` tag plus the tags the run queue limits by. Plain GraphQL over httpx: the
gateway imports no Dagster package. Messages never carry Dagster's internal URL (they reach API
clients); the URL goes to the gateway's log instead.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from lineup_integrations.core.provider import TENANTS_PARTITION_SET

logger = logging.getLogger(__name__)

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

LAUNCH_RUN_MUTATION = """
mutation LaunchRun($executionParams: ExecutionParams!) {
  launchRun(executionParams: $executionParams) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on RunConfigValidationInvalid { errors { message } }
    ... on InvalidStepError { invalidStepKey }
    ... on InvalidOutputError { stepKey invalidOutputName }
    ... on PipelineNotFoundError { message }
    ... on RunConflict { message }
    ... on ConflictingExecutionParamsError { message }
    ... on PresetNotFoundError { message }
    ... on NoModeProvidedError { message }
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

    def _graphql(self, query: str, variables: Mapping[str, Any] | None = None) -> dict[str, Any]:
        try:
            response = httpx.post(
                self.graphql_url, json={"query": query, "variables": dict(variables or {})}, timeout=self.timeout
            )
            response.raise_for_status()
        except httpx.HTTPError as error:
            logger.warning("Dagster's GraphQL API at %s failed: %s", self.graphql_url, type(error).__name__)
            raise DagsterLaunchError(f"Dagster's GraphQL API is unreachable ({type(error).__name__})") from None
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
            raise DagsterLaunchError(
                f"Dagster refused the tenant partition: {result.get('message', result['__typename'])}"
            )

    def launch_partition_run(
        self, job_name: str, partition_key: str, *, tags: Mapping[str, str], run_config: Mapping[str, Any] | None = None
    ) -> str:
        """Launch `job_name` for one partition and return the run id."""
        where = self.locate_job(job_name)
        self.ensure_partition(where, partition_key)
        all_tags = {**tags, "dagster/partition": partition_key}
        result = self._graphql(LAUNCH_RUN_MUTATION, {"executionParams": {
            "selector": {"repositoryLocationName": where.location_name, "repositoryName": where.repository_name,
                         "jobName": job_name},
            "runConfigData": dict(run_config or {}),
            "executionMetadata": {"tags": [{"key": key, "value": value} for key, value in all_tags.items()]},
        }})["launchRun"]  # fmt: skip
        if result["__typename"] != "LaunchRunSuccess":
            errors = result.get("errors")
            reason = errors[0]["message"] if errors else result.get("message", "")
            raise DagsterLaunchError(f"Dagster refused the run ({result['__typename']}): {reason}".rstrip(": "))
        return str(result["run"]["runId"])
