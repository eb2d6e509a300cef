from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CertificateRequest(_message.Message):
    __slots__ = ("certname", "csr_pem")
    CERTNAME_FIELD_NUMBER: _ClassVar[int]
    CSR_PEM_FIELD_NUMBER: _ClassVar[int]
    certname: str
    csr_pem: bytes
    def __init__(self, certname: _Optional[str] = ..., csr_pem: _Optional[bytes] = ...) -> None: ...

class CertificateReply(_message.Message):
    __slots__ = ("status", "certificate_pem", "ca_certificate_pem", "crl_pem", "message")
    class Status(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        PENDING: _ClassVar[CertificateReply.Status]
        SIGNED: _ClassVar[CertificateReply.Status]
        REJECTED: _ClassVar[CertificateReply.Status]
    PENDING: CertificateReply.Status
    SIGNED: CertificateReply.Status
    REJECTED: CertificateReply.Status
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CERTIFICATE_PEM_FIELD_NUMBER: _ClassVar[int]
    CA_CERTIFICATE_PEM_FIELD_NUMBER: _ClassVar[int]
    CRL_PEM_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    status: CertificateReply.Status
    certificate_pem: bytes
    ca_certificate_pem: bytes
    crl_pem: bytes
    message: str
    def __init__(self, status: _Optional[_Union[CertificateReply.Status, str]] = ..., certificate_pem: _Optional[bytes] = ..., ca_certificate_pem: _Optional[bytes] = ..., crl_pem: _Optional[bytes] = ..., message: _Optional[str] = ...) -> None: ...

class CatalogRequest(_message.Message):
    __slots__ = ("node", "environment", "facts_json", "transaction_uuid")
    NODE_FIELD_NUMBER: _ClassVar[int]
    ENVIRONMENT_FIELD_NUMBER: _ClassVar[int]
    FACTS_JSON_FIELD_NUMBER: _ClassVar[int]
    TRANSACTION_UUID_FIELD_NUMBER: _ClassVar[int]
    node: str
    environment: str
    facts_json: bytes
    transaction_uuid: str
    def __init__(self, node: _Optional[str] = ..., environment: _Optional[str] = ..., facts_json: _Optional[bytes] = ..., transaction_uuid: _Optional[str] = ...) -> None: ...

class CatalogReply(_message.Message):
    __slots__ = ("catalog_json", "code_id", "environment", "cache_hit", "crl_pem", "agent_version")
    CATALOG_JSON_FIELD_NUMBER: _ClassVar[int]
    CODE_ID_FIELD_NUMBER: _ClassVar[int]
    ENVIRONMENT_FIELD_NUMBER: _ClassVar[int]
    CACHE_HIT_FIELD_NUMBER: _ClassVar[int]
    CRL_PEM_FIELD_NUMBER: _ClassVar[int]
    AGENT_VERSION_FIELD_NUMBER: _ClassVar[int]
    catalog_json: bytes
    code_id: str
    environment: str
    cache_hit: bool
    crl_pem: bytes
    agent_version: AgentVersion
    def __init__(self, catalog_json: _Optional[bytes] = ..., code_id: _Optional[str] = ..., environment: _Optional[str] = ..., cache_hit: _Optional[bool] = ..., crl_pem: _Optional[bytes] = ..., agent_version: _Optional[_Union[AgentVersion, _Mapping]] = ...) -> None: ...

class AgentVersion(_message.Message):
    __slots__ = ("version", "sha256", "size", "filename", "deadline_seconds")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    FILENAME_FIELD_NUMBER: _ClassVar[int]
    DEADLINE_SECONDS_FIELD_NUMBER: _ClassVar[int]
    version: str
    sha256: str
    size: int
    filename: str
    deadline_seconds: float
    def __init__(self, version: _Optional[str] = ..., sha256: _Optional[str] = ..., size: _Optional[int] = ..., filename: _Optional[str] = ..., deadline_seconds: _Optional[float] = ...) -> None: ...

class FactsRequest(_message.Message):
    __slots__ = ("node", "environment", "facts_json")
    NODE_FIELD_NUMBER: _ClassVar[int]
    ENVIRONMENT_FIELD_NUMBER: _ClassVar[int]
    FACTS_JSON_FIELD_NUMBER: _ClassVar[int]
    node: str
    environment: str
    facts_json: bytes
    def __init__(self, node: _Optional[str] = ..., environment: _Optional[str] = ..., facts_json: _Optional[bytes] = ...) -> None: ...

class FactsReply(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ReportRequest(_message.Message):
    __slots__ = ("report_json",)
    REPORT_JSON_FIELD_NUMBER: _ClassVar[int]
    report_json: bytes
    def __init__(self, report_json: _Optional[bytes] = ...) -> None: ...

class ReportReply(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class FileMetadataRequest(_message.Message):
    __slots__ = ("uri", "environment")
    URI_FIELD_NUMBER: _ClassVar[int]
    ENVIRONMENT_FIELD_NUMBER: _ClassVar[int]
    uri: str
    environment: str
    def __init__(self, uri: _Optional[str] = ..., environment: _Optional[str] = ...) -> None: ...

class FileMetadataReply(_message.Message):
    __slots__ = ("found", "kind", "size", "mtime", "mode", "sha256", "children")
    FOUND_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    MTIME_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    CHILDREN_FIELD_NUMBER: _ClassVar[int]
    found: bool
    kind: str
    size: int
    mtime: float
    mode: int
    sha256: str
    children: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, found: _Optional[bool] = ..., kind: _Optional[str] = ..., size: _Optional[int] = ..., mtime: _Optional[float] = ..., mode: _Optional[int] = ..., sha256: _Optional[str] = ..., children: _Optional[_Iterable[str]] = ...) -> None: ...

class FileContentRequest(_message.Message):
    __slots__ = ("uri", "environment", "sha256", "offset")
    URI_FIELD_NUMBER: _ClassVar[int]
    ENVIRONMENT_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    uri: str
    environment: str
    sha256: str
    offset: int
    def __init__(self, uri: _Optional[str] = ..., environment: _Optional[str] = ..., sha256: _Optional[str] = ..., offset: _Optional[int] = ...) -> None: ...

class FileChunk(_message.Message):
    __slots__ = ("data", "sha256")
    DATA_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    data: bytes
    sha256: str
    def __init__(self, data: _Optional[bytes] = ..., sha256: _Optional[str] = ...) -> None: ...

class PluginSyncRequest(_message.Message):
    __slots__ = ("environment",)
    ENVIRONMENT_FIELD_NUMBER: _ClassVar[int]
    environment: str
    def __init__(self, environment: _Optional[str] = ...) -> None: ...

class PluginFile(_message.Message):
    __slots__ = ("path", "sha256", "uri")
    PATH_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    URI_FIELD_NUMBER: _ClassVar[int]
    path: str
    sha256: str
    uri: str
    def __init__(self, path: _Optional[str] = ..., sha256: _Optional[str] = ..., uri: _Optional[str] = ...) -> None: ...

class PluginSyncReply(_message.Message):
    __slots__ = ("environment", "facts")
    ENVIRONMENT_FIELD_NUMBER: _ClassVar[int]
    FACTS_FIELD_NUMBER: _ClassVar[int]
    environment: str
    facts: _containers.RepeatedCompositeFieldContainer[PluginFile]
    def __init__(self, environment: _Optional[str] = ..., facts: _Optional[_Iterable[_Union[PluginFile, _Mapping]]] = ...) -> None: ...

class ListNodesRequest(_message.Message):
    __slots__ = ("unresponsive_after_seconds",)
    UNRESPONSIVE_AFTER_SECONDS_FIELD_NUMBER: _ClassVar[int]
    unresponsive_after_seconds: int
    def __init__(self, unresponsive_after_seconds: _Optional[int] = ...) -> None: ...

class NodeStatus(_message.Message):
    __slots__ = ("name", "status", "last_run", "last_seen", "code_id", "environment", "group", "report_count", "cached_catalog", "agent_disabled", "disabled_reason", "agent_version")
    NAME_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    LAST_RUN_FIELD_NUMBER: _ClassVar[int]
    LAST_SEEN_FIELD_NUMBER: _ClassVar[int]
    CODE_ID_FIELD_NUMBER: _ClassVar[int]
    ENVIRONMENT_FIELD_NUMBER: _ClassVar[int]
    GROUP_FIELD_NUMBER: _ClassVar[int]
    REPORT_COUNT_FIELD_NUMBER: _ClassVar[int]
    CACHED_CATALOG_FIELD_NUMBER: _ClassVar[int]
    AGENT_DISABLED_FIELD_NUMBER: _ClassVar[int]
    DISABLED_REASON_FIELD_NUMBER: _ClassVar[int]
    AGENT_VERSION_FIELD_NUMBER: _ClassVar[int]
    name: str
    status: str
    last_run: str
    last_seen: str
    code_id: str
    environment: str
    group: str
    report_count: int
    cached_catalog: str
    agent_disabled: bool
    disabled_reason: str
    agent_version: str
    def __init__(self, name: _Optional[str] = ..., status: _Optional[str] = ..., last_run: _Optional[str] = ..., last_seen: _Optional[str] = ..., code_id: _Optional[str] = ..., environment: _Optional[str] = ..., group: _Optional[str] = ..., report_count: _Optional[int] = ..., cached_catalog: _Optional[str] = ..., agent_disabled: _Optional[bool] = ..., disabled_reason: _Optional[str] = ..., agent_version: _Optional[str] = ...) -> None: ...

class ListNodesReply(_message.Message):
    __slots__ = ("nodes",)
    NODES_FIELD_NUMBER: _ClassVar[int]
    nodes: _containers.RepeatedCompositeFieldContainer[NodeStatus]
    def __init__(self, nodes: _Optional[_Iterable[_Union[NodeStatus, _Mapping]]] = ...) -> None: ...

class GetReportsRequest(_message.Message):
    __slots__ = ("node", "last")
    NODE_FIELD_NUMBER: _ClassVar[int]
    LAST_FIELD_NUMBER: _ClassVar[int]
    node: str
    last: int
    def __init__(self, node: _Optional[str] = ..., last: _Optional[int] = ...) -> None: ...

class GetReportsReply(_message.Message):
    __slots__ = ("report_json",)
    REPORT_JSON_FIELD_NUMBER: _ClassVar[int]
    report_json: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, report_json: _Optional[_Iterable[bytes]] = ...) -> None: ...

class GetFactsRequest(_message.Message):
    __slots__ = ("node",)
    NODE_FIELD_NUMBER: _ClassVar[int]
    node: str
    def __init__(self, node: _Optional[str] = ...) -> None: ...

class GetFactsReply(_message.Message):
    __slots__ = ("facts_json", "found")
    FACTS_JSON_FIELD_NUMBER: _ClassVar[int]
    FOUND_FIELD_NUMBER: _ClassVar[int]
    facts_json: bytes
    found: bool
    def __init__(self, facts_json: _Optional[bytes] = ..., found: _Optional[bool] = ...) -> None: ...

class DiffCatalogRequest(_message.Message):
    __slots__ = ("node", "from_rev", "to_rev", "environment")
    NODE_FIELD_NUMBER: _ClassVar[int]
    FROM_REV_FIELD_NUMBER: _ClassVar[int]
    TO_REV_FIELD_NUMBER: _ClassVar[int]
    ENVIRONMENT_FIELD_NUMBER: _ClassVar[int]
    node: str
    from_rev: str
    to_rev: str
    environment: str
    def __init__(self, node: _Optional[str] = ..., from_rev: _Optional[str] = ..., to_rev: _Optional[str] = ..., environment: _Optional[str] = ...) -> None: ...

class DiffCatalogReply(_message.Message):
    __slots__ = ("diff_json", "from_code_id", "to_code_id")
    DIFF_JSON_FIELD_NUMBER: _ClassVar[int]
    FROM_CODE_ID_FIELD_NUMBER: _ClassVar[int]
    TO_CODE_ID_FIELD_NUMBER: _ClassVar[int]
    diff_json: bytes
    from_code_id: str
    to_code_id: str
    def __init__(self, diff_json: _Optional[bytes] = ..., from_code_id: _Optional[str] = ..., to_code_id: _Optional[str] = ...) -> None: ...

class LiveHello(_message.Message):
    __slots__ = ("environment", "disabled", "disabled_reason")
    ENVIRONMENT_FIELD_NUMBER: _ClassVar[int]
    DISABLED_FIELD_NUMBER: _ClassVar[int]
    DISABLED_REASON_FIELD_NUMBER: _ClassVar[int]
    environment: str
    disabled: bool
    disabled_reason: str
    def __init__(self, environment: _Optional[str] = ..., disabled: _Optional[bool] = ..., disabled_reason: _Optional[str] = ...) -> None: ...

class LiveCommand(_message.Message):
    __slots__ = ("kind", "mode", "rollout_id", "heartbeat_seconds", "task")
    class Kind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        PING: _ClassVar[LiveCommand.Kind]
        RUN: _ClassVar[LiveCommand.Kind]
        TASK: _ClassVar[LiveCommand.Kind]
        CANCEL: _ClassVar[LiveCommand.Kind]
    PING: LiveCommand.Kind
    RUN: LiveCommand.Kind
    TASK: LiveCommand.Kind
    CANCEL: LiveCommand.Kind
    KIND_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    ROLLOUT_ID_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_SECONDS_FIELD_NUMBER: _ClassVar[int]
    TASK_FIELD_NUMBER: _ClassVar[int]
    kind: LiveCommand.Kind
    mode: str
    rollout_id: int
    heartbeat_seconds: float
    task: TaskCommand
    def __init__(self, kind: _Optional[_Union[LiveCommand.Kind, str]] = ..., mode: _Optional[str] = ..., rollout_id: _Optional[int] = ..., heartbeat_seconds: _Optional[float] = ..., task: _Optional[_Union[TaskCommand, _Mapping]] = ...) -> None: ...

class TaskCommand(_message.Message):
    __slots__ = ("task_id", "account", "argv", "executable", "name", "environment", "stdin", "timeout")
    class EnvironmentEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    ARGV_FIELD_NUMBER: _ClassVar[int]
    EXECUTABLE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    ENVIRONMENT_FIELD_NUMBER: _ClassVar[int]
    STDIN_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    task_id: int
    account: str
    argv: _containers.RepeatedScalarFieldContainer[str]
    executable: bytes
    name: str
    environment: _containers.ScalarMap[str, str]
    stdin: bytes
    timeout: float
    def __init__(self, task_id: _Optional[int] = ..., account: _Optional[str] = ..., argv: _Optional[_Iterable[str]] = ..., executable: _Optional[bytes] = ..., name: _Optional[str] = ..., environment: _Optional[_Mapping[str, str]] = ..., stdin: _Optional[bytes] = ..., timeout: _Optional[float] = ...) -> None: ...

class HeartbeatRequest(_message.Message):
    __slots__ = ("environment", "running", "disabled", "disabled_reason")
    ENVIRONMENT_FIELD_NUMBER: _ClassVar[int]
    RUNNING_FIELD_NUMBER: _ClassVar[int]
    DISABLED_FIELD_NUMBER: _ClassVar[int]
    DISABLED_REASON_FIELD_NUMBER: _ClassVar[int]
    environment: str
    running: bool
    disabled: bool
    disabled_reason: str
    def __init__(self, environment: _Optional[str] = ..., running: _Optional[bool] = ..., disabled: _Optional[bool] = ..., disabled_reason: _Optional[str] = ...) -> None: ...

class HeartbeatReply(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class StartRolloutRequest(_message.Message):
    __slots__ = ("rev", "environment", "group", "canary", "batch", "max_concurrent", "max_failures", "health_timeout", "pause_between", "auto_rollback", "incremental", "force", "artifact", "agent_version")
    REV_FIELD_NUMBER: _ClassVar[int]
    ENVIRONMENT_FIELD_NUMBER: _ClassVar[int]
    GROUP_FIELD_NUMBER: _ClassVar[int]
    CANARY_FIELD_NUMBER: _ClassVar[int]
    BATCH_FIELD_NUMBER: _ClassVar[int]
    MAX_CONCURRENT_FIELD_NUMBER: _ClassVar[int]
    MAX_FAILURES_FIELD_NUMBER: _ClassVar[int]
    HEALTH_TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    PAUSE_BETWEEN_FIELD_NUMBER: _ClassVar[int]
    AUTO_ROLLBACK_FIELD_NUMBER: _ClassVar[int]
    INCREMENTAL_FIELD_NUMBER: _ClassVar[int]
    FORCE_FIELD_NUMBER: _ClassVar[int]
    ARTIFACT_FIELD_NUMBER: _ClassVar[int]
    AGENT_VERSION_FIELD_NUMBER: _ClassVar[int]
    rev: str
    environment: str
    group: str
    canary: str
    batch: str
    max_concurrent: int
    max_failures: str
    health_timeout: float
    pause_between: float
    auto_rollback: bool
    incremental: bool
    force: bool
    artifact: str
    agent_version: str
    def __init__(self, rev: _Optional[str] = ..., environment: _Optional[str] = ..., group: _Optional[str] = ..., canary: _Optional[str] = ..., batch: _Optional[str] = ..., max_concurrent: _Optional[int] = ..., max_failures: _Optional[str] = ..., health_timeout: _Optional[float] = ..., pause_between: _Optional[float] = ..., auto_rollback: _Optional[bool] = ..., incremental: _Optional[bool] = ..., force: _Optional[bool] = ..., artifact: _Optional[str] = ..., agent_version: _Optional[str] = ...) -> None: ...

class RolloutStatusRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: int
    def __init__(self, id: _Optional[int] = ...) -> None: ...

class RolloutCommandRequest(_message.Message):
    __slots__ = ("id", "command")
    ID_FIELD_NUMBER: _ClassVar[int]
    COMMAND_FIELD_NUMBER: _ClassVar[int]
    id: int
    command: str
    def __init__(self, id: _Optional[int] = ..., command: _Optional[str] = ...) -> None: ...

class RolloutReply(_message.Message):
    __slots__ = ("rollout_json",)
    ROLLOUT_JSON_FIELD_NUMBER: _ClassVar[int]
    rollout_json: bytes
    def __init__(self, rollout_json: _Optional[bytes] = ...) -> None: ...

class ListRolloutsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListRolloutsReply(_message.Message):
    __slots__ = ("rollouts_json",)
    ROLLOUTS_JSON_FIELD_NUMBER: _ClassVar[int]
    rollouts_json: bytes
    def __init__(self, rollouts_json: _Optional[bytes] = ...) -> None: ...

class RunTaskRequest(_message.Message):
    __slots__ = ("group", "nodes", "account", "max_concurrent", "timeout", "idempotency_key", "command", "task", "params", "environment", "expires_in")
    class ParamsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    GROUP_FIELD_NUMBER: _ClassVar[int]
    NODES_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    MAX_CONCURRENT_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    COMMAND_FIELD_NUMBER: _ClassVar[int]
    TASK_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    ENVIRONMENT_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_IN_FIELD_NUMBER: _ClassVar[int]
    group: str
    nodes: _containers.RepeatedScalarFieldContainer[str]
    account: str
    max_concurrent: int
    timeout: float
    idempotency_key: str
    command: _containers.RepeatedScalarFieldContainer[str]
    task: str
    params: _containers.ScalarMap[str, str]
    environment: str
    expires_in: float
    def __init__(self, group: _Optional[str] = ..., nodes: _Optional[_Iterable[str]] = ..., account: _Optional[str] = ..., max_concurrent: _Optional[int] = ..., timeout: _Optional[float] = ..., idempotency_key: _Optional[str] = ..., command: _Optional[_Iterable[str]] = ..., task: _Optional[str] = ..., params: _Optional[_Mapping[str, str]] = ..., environment: _Optional[str] = ..., expires_in: _Optional[float] = ...) -> None: ...

class TaskStatusRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: int
    def __init__(self, id: _Optional[int] = ...) -> None: ...

class ListTasksRequest(_message.Message):
    __slots__ = ("last",)
    LAST_FIELD_NUMBER: _ClassVar[int]
    last: int
    def __init__(self, last: _Optional[int] = ...) -> None: ...

class CancelTaskRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: int
    def __init__(self, id: _Optional[int] = ...) -> None: ...

class TaskReply(_message.Message):
    __slots__ = ("task_json", "created")
    TASK_JSON_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    task_json: bytes
    created: bool
    def __init__(self, task_json: _Optional[bytes] = ..., created: _Optional[bool] = ...) -> None: ...

class TaskResultRequest(_message.Message):
    __slots__ = ("task_id", "state", "exit_code", "stdout", "stderr", "duration", "reason", "stdout_truncated", "stderr_truncated")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    EXIT_CODE_FIELD_NUMBER: _ClassVar[int]
    STDOUT_FIELD_NUMBER: _ClassVar[int]
    STDERR_FIELD_NUMBER: _ClassVar[int]
    DURATION_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    STDOUT_TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    STDERR_TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    task_id: int
    state: str
    exit_code: int
    stdout: bytes
    stderr: bytes
    duration: float
    reason: str
    stdout_truncated: bool
    stderr_truncated: bool
    def __init__(self, task_id: _Optional[int] = ..., state: _Optional[str] = ..., exit_code: _Optional[int] = ..., stdout: _Optional[bytes] = ..., stderr: _Optional[bytes] = ..., duration: _Optional[float] = ..., reason: _Optional[str] = ..., stdout_truncated: _Optional[bool] = ..., stderr_truncated: _Optional[bool] = ...) -> None: ...

class TaskResultReply(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class PushArtifactRequest(_message.Message):
    __slots__ = ("app", "version", "sha256", "size", "offset", "data", "finish", "filename", "meta")
    class MetaEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    APP_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    FINISH_FIELD_NUMBER: _ClassVar[int]
    FILENAME_FIELD_NUMBER: _ClassVar[int]
    META_FIELD_NUMBER: _ClassVar[int]
    app: str
    version: str
    sha256: str
    size: int
    offset: int
    data: bytes
    finish: bool
    filename: str
    meta: _containers.ScalarMap[str, str]
    def __init__(self, app: _Optional[str] = ..., version: _Optional[str] = ..., sha256: _Optional[str] = ..., size: _Optional[int] = ..., offset: _Optional[int] = ..., data: _Optional[bytes] = ..., finish: _Optional[bool] = ..., filename: _Optional[str] = ..., meta: _Optional[_Mapping[str, str]] = ...) -> None: ...

class PushArtifactReply(_message.Message):
    __slots__ = ("received", "artifact_json")
    RECEIVED_FIELD_NUMBER: _ClassVar[int]
    ARTIFACT_JSON_FIELD_NUMBER: _ClassVar[int]
    received: int
    artifact_json: bytes
    def __init__(self, received: _Optional[int] = ..., artifact_json: _Optional[bytes] = ...) -> None: ...

class ArtifactCommandRequest(_message.Message):
    __slots__ = ("command", "app", "version", "older_than")
    COMMAND_FIELD_NUMBER: _ClassVar[int]
    APP_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    OLDER_THAN_FIELD_NUMBER: _ClassVar[int]
    command: str
    app: str
    version: str
    older_than: float
    def __init__(self, command: _Optional[str] = ..., app: _Optional[str] = ..., version: _Optional[str] = ..., older_than: _Optional[float] = ...) -> None: ...

class ArtifactReply(_message.Message):
    __slots__ = ("json",)
    JSON_FIELD_NUMBER: _ClassVar[int]
    json: bytes
    def __init__(self, json: _Optional[bytes] = ...) -> None: ...
