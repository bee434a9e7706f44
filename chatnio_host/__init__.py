"""Chat Nio for Python: the plugin host.

Plugin authors import only from here: the ``hookimpl`` marker, the errors, what the
``register_*`` hooks take, the adapter contract and the canonical request and events.
"""

from chatnio_host.auth.caller import Caller
from chatnio_host.auth.deps import AdminUser, CurrentUser, KeyOrUser, OptionalUser, RelayCaller
from chatnio_host.channels.base import (
    ChannelAdapter,
    SSEEvent,
    UpstreamFailure,
    UpstreamHTTP,
    UpstreamResponse,
    UpstreamTarget,
)
from chatnio_host.errors import (
    APIError,
    AuthenticationFailed,
    ChatnioError,
    ConfigError,
    Conflict,
    InsufficientQuota,
    InvalidRequest,
    NoChannel,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    RateLimited,
    StartupError,
    UnsupportedMediaType,
    UpstreamError,
    UpstreamTimeout,
)
from chatnio_host.files.text import decode_text
from chatnio_host.files.types import ParsedFile
from chatnio_host.hookspecs import hookimpl
from chatnio_host.registry import ChannelType, FileParser, InboundFormat, PaymentProvider, SearchProvider
from chatnio_host.relay.canonical import (
    CONTENT_EVENTS,
    ChatRequest,
    Event,
    Finish,
    ImagePart,
    Message,
    ReasoningDelta,
    StreamError,
    TextDelta,
    TextPart,
    ThinkingPart,
    Tool,
    ToolCall,
    ToolCallDelta,
    Usage,
    UsageEvent,
)
from chatnio_host.relay.upstream import parse_error_body
from chatnio_host.search.types import SearchResult
from chatnio_host.version import __version__

__all__ = [
    "APIError",
    "AdminUser",
    "AuthenticationFailed",
    "CONTENT_EVENTS",
    "Caller",
    "ChannelAdapter",
    "ChannelType",
    "ChatRequest",
    "ChatnioError",
    "ConfigError",
    "Conflict",
    "CurrentUser",
    "Event",
    "FileParser",
    "Finish",
    "ImagePart",
    "InboundFormat",
    "InsufficientQuota",
    "InvalidRequest",
    "KeyOrUser",
    "Message",
    "NoChannel",
    "NotFound",
    "OptionalUser",
    "ParsedFile",
    "PayloadTooLarge",
    "PaymentProvider",
    "PermissionDenied",
    "RateLimited",
    "ReasoningDelta",
    "RelayCaller",
    "SSEEvent",
    "SearchProvider",
    "SearchResult",
    "StartupError",
    "StreamError",
    "TextDelta",
    "TextPart",
    "ThinkingPart",
    "Tool",
    "ToolCall",
    "ToolCallDelta",
    "UnsupportedMediaType",
    "UpstreamError",
    "UpstreamFailure",
    "UpstreamHTTP",
    "UpstreamResponse",
    "UpstreamTarget",
    "UpstreamTimeout",
    "Usage",
    "UsageEvent",
    "__version__",
    "decode_text",
    "hookimpl",
    "parse_error_body",
]
