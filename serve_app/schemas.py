"""Request and response bodies of the REST API (field names follow the user's API guide)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ChatMessage(Strict):
    role: Literal["system", "user", "assistant", "tool"]
    content: str = ""
    tool_calls: list[dict[str, Any]] | None = None
    name: str | None = None
    tool_call_id: str | None = None


class GenerationOptions(Strict):
    max_length: int | None = Field(None, ge=1, description="Prompt + completion tokens.")
    max_new_tokens: int | None = Field(None, ge=1, description="Completion tokens.")
    temperature: float | None = Field(
        None, ge=0.0, le=2.0, description="0 (below 1e-5) decodes greedily."
    )
    top_p: float | None = Field(None, gt=0.0, le=1.0)
    system_prompt: str | None = Field(None, description="Used when messages hold no system turn.")


class ToolOptions(GenerationOptions):
    allowed_tools: list[str] | None = Field(
        None,
        description="The only tools this chat may offer and run (names from GET /tools), within "
        "those tools.chat_capabilities and tools.chat_network_tools let chats use; null: all of "
        "those. A call of any other tool is refused, not run, and named in tool_call_errors.",
    )


class ChatRequest(ToolOptions):
    messages: list[ChatMessage] = Field(min_length=1)
    use_tools: bool = Field(False, description="Offer the registry's tools and run their calls.")
    tool_choice: Literal["none", "auto", "required"] | dict[str, Any] = Field(
        "auto",
        description="As in OpenAI's API, for the first round: auto lets the model choose, none "
        "offers no tools, required forces a call, "
        '{"type": "function", "function": {"name": ...}} forces a call of that tool.',
    )


class SimpleChatRequest(ToolOptions):
    text: str = Field(min_length=1)


class ToolCallOut(BaseModel):
    name: str
    arguments: dict[str, Any]


class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int


class ChatResponse(BaseModel):
    response: str
    tool_calls: list[ToolCallOut] = []
    tool_results: list[Any] = []
    tool_call_errors: list[str] = []
    recovered_tool_calls: list[str] = Field(
        [],
        description="Format of each call the model wrote as JSON instead of <tool_call> tags "
        "(json_block, bare_json), as model.tool_call_formats allowed.",
    )
    finish_reason: str
    usage: Usage
    timestamp: str


class SimpleChatResponse(BaseModel):
    user_input: str
    assistant_response: str
    tool_calls: list[ToolCallOut]
    tool_results: list[Any]
    final_response: str
    tool_call_errors: list[str]
    recovered_tool_calls: list[str] = Field(
        [],
        description="Format of each call the model wrote as JSON instead of <tool_call> tags "
        "(json_block, bare_json), as model.tool_call_formats allowed.",
    )
    rounds: int
    timestamp: str


class HealthResponse(BaseModel):
    status: Literal["healthy"]
    timestamp: str
    model_loaded: bool
    training_status: bool


class TrainingStatusSummary(BaseModel):
    is_training: bool
    progress: float
    message: str


class McpServerState(BaseModel):
    name: str
    connected: bool = Field(description="The session is open, as far as the last call knows.")
    tools: list[str] = Field(description="Its tools, as the registry names them.")
    error: str | None = Field(description="Why it is not connected (or was last lost).")


class McpHeldBackTool(BaseModel):
    """A tool an MCP server changed or added after its first listing: not offered, not run."""

    server: str
    tool: str = Field(description="The server's name for it: the key in approved_tools.")
    name: str = Field(description="The registry's name (<server>__<tool>).")
    digest: str = Field(description="Its digest now: the value to approve it with.")
    reason: str


class StatusResponse(BaseModel):
    model_loaded: bool
    model_path: str | None
    model_load_error: str | None
    training_status: TrainingStatusSummary
    available_tools: list[str]
    mcp_servers: list[McpServerState] = []
    mcp_held_back_tools: list[McpHeldBackTool] = Field(
        [],
        description="MCP tools held back until tools.mcp_servers[].approved_tools names them "
        "with their digest.",
    )
    hf_manager_available: bool
    prefix_cache: PrefixCacheStats | None = Field(
        None, description="The prefix KV cache of the model replica that answered."
    )
    tool_calls_recovered: dict[str, int] = Field(
        {}, description="Calls read from JSON instead of <tool_call> tags, by format."
    )


class ModelLoadRequest(Strict):
    model_path: str = Field(min_length=1)
    base_model_name: str | None = None


class LoraAdapterLoadRequest(Strict):
    """POST /v1/load_lora_adapter, as vLLM takes it."""

    lora_name: str = Field(min_length=1, description="What `model` names it by in requests.")
    lora_path: str = Field(min_length=1, description="Folder of a peft LoRA adapter.")


class LoraAdapterUnloadRequest(Strict):
    lora_name: str = Field(min_length=1)


class PrefixCacheStats(BaseModel):
    """Reuse of prompt-prefix keys and values on the replica that answered."""

    enabled: bool
    entries: int
    bytes: int
    max_bytes: int
    hits: int = Field(description="Prompts that reused a cached prefix.")
    misses: int = Field(description="Prompts computed from their first token.")
    reused_tokens: int = Field(description="Prompt tokens read from the cache.")
    computed_tokens: int = Field(description="Prompt tokens computed (prefill).")


class ModelInfo(BaseModel):
    model_path: str
    model_folder: str = Field(description="The folder the weights were read from.")
    base_model_name: str | None
    model_type: Literal["full", "LoRA"]
    loaded_at: str
    device: str
    dtype: str
    quantization: str = Field(
        description="none, int8 (dynamic int8 Linear layers on CPU), or gguf <type> (llama.cpp)."
    )
    engine: Literal["transformers", "llamacpp"] = Field(
        description="What decodes (model.engine): transformers, or llama.cpp on the GGUF."
    )
    prefix_cache: PrefixCacheStats
    tool_calls_recovered: dict[str, int] = Field(
        description="Calls this replica read from JSON instead of <tool_call> tags, by format."
    )
    batches: int = Field(0, description="Decode steps of this replica's continuous batch.")
    batched_requests: int = Field(
        0, description="Rows those steps decoded (their sum): over batches, the mean batch size."
    )
    generations_running: int = Field(
        0, description="Replies this replica is decoding now (streams and batch rows)."
    )
    generations_cancelled: int = Field(
        0, description="Replies stopped before their end because their client left."
    )
    parameters: int
    load_seconds: float


class ModelLoadResponse(BaseModel):
    status: Literal["loaded"]
    model: ModelInfo
    message: str = Field(
        description="What was loaded, in one sentence: path, kind (full, or LoRA over its "
        "base), load time, device and dtype."
    )


class ToolSchema(BaseModel):
    name: str
    description: str
    parameters: dict[str, Any]


class ToolsResponse(BaseModel):
    tools: list[str]
    tool_schemas: dict[str, ToolSchema]
    chat_tools: list[str] = Field(
        description="The tools /chat offers and runs when allowed_tools is null: those whose "
        "capabilities tools.chat_capabilities enables, network aside for "
        "tools.chat_network_tools (/tools/execute runs any tool)."
    )


class ToolExecuteRequest(Strict):
    tool_name: str = Field(min_length=1)
    arguments: dict[str, Any] = Field(default_factory=dict)


class ToolExecuteResponse(BaseModel):
    tool_name: str
    arguments: dict[str, Any]
    result: Any
    timestamp: str


class ConfigUpdateResponse(BaseModel):
    status: Literal["updated"]
    config: dict[str, Any]


class TrainingStartRequest(Strict):
    config_updates: dict[str, Any] = Field(
        default_factory=dict, description="Fields of the training section to change for this job."
    )
    dataset_path: str | None = Field(
        None, description="JSONL/JSON/Parquet dataset; None uses data.dataset_path or generates."
    )


class TrainingStatusResponse(BaseModel):
    """The guide's is_training / progress / message, plus the job's live details."""

    is_training: bool
    progress: float
    message: str
    job_id: str | None = None
    state: str | None = None
    step: int = 0
    total_steps: int = 0
    epoch: int = 0
    loss: float | None = None
    learning_rate: float | None = None
    tokens_per_second: float | None = None
    eta_seconds: float | None = None
    evaluation: dict[str, Any] = {}
    error: str | None = None
    loss_history: list[dict[str, float]] = []
    resumed_from_steps: list[int] = Field(
        [], description="Checkpoint steps the job resumed from after a worker failure."
    )
    adapter_path: str | None = None
    gguf_path: str | None = Field(
        None, description="The adapter as a GGUF LoRA (training.export_gguf), for llama.cpp."
    )
    checkpoint_path: str | None = None


class TrainingJob(BaseModel):
    job_id: str
    created_at: str
    dataset: dict[str, Any]
    training_config: dict[str, Any]
    base_model_path: str
    progress: dict[str, Any]
    adapter_path: str | None = None
    gguf_path: str | None = Field(
        None, description="The adapter as a GGUF LoRA (training.export_gguf), for llama.cpp."
    )
    checkpoint_path: str | None = None
    evaluation: dict[str, Any] = {}


class HubUploadRequest(Strict):
    job_id: str | None = Field(
        None, min_length=1, description="Job to upload; None takes the latest succeeded one."
    )
    repo_id: str | None = Field(
        None, min_length=1, description="namespace/name (or name); None uses huggingface.repo_id."
    )
    private: bool | None = Field(
        None, description="Visibility if the repository is created; None uses the config."
    )


class HubUpload(BaseModel):
    """One upload of a job's trained folder: pending → uploading → succeeded | failed."""

    upload_id: str
    job_id: str
    repo_id: str
    private: bool
    endpoint: str
    state: Literal["pending", "uploading", "succeeded", "failed"]
    message: str
    files: list[str]
    created_at: str
    finished_at: str | None
    repo_url: str | None
    commit_url: str | None
    error: str | None


class HubStatusResponse(BaseModel):
    token_present: bool
    token_env: str
    repo_id: str | None
    private: bool
    endpoint: str
    hub_reachable: bool
    available: bool = Field(
        description="Uploads can be attempted: huggingface_hub is installed and the hub answered "
        "the reachability probe (hub_reachable)."
    )
    authenticated: bool = Field(
        description="A token is set and the hub answered (token_present and hub_reachable); "
        "the token itself is not checked until an upload uses it."
    )
    upload: HubUpload | None


class ErrorResponse(BaseModel):
    """Every REST error but request validation (422): what went wrong and what to do."""

    detail: str


class RequestValidationErrorResponse(BaseModel):
    """FastAPI's answer to a body that fails validation: where and why, per issue."""

    detail: list[RequestValidationIssue]


class RequestValidationIssue(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class UnprocessableResponse(RootModel[ErrorResponse | RequestValidationErrorResponse]):
    """422: a request body that fails validation (a list of issues), or a tool_choice the model
    could not satisfy (one message)."""


class OpenAIErrorBody(BaseModel):
    message: str
    type: str
    param: str | None = None
    code: str | None = None


class OpenAIErrorResponse(BaseModel):
    """Errors of the /v1 routes, in OpenAI's shape so that its clients raise the right error."""

    error: OpenAIErrorBody
