"""Contains all the data models used in inputs/outputs"""

from .api_token_info import ApiTokenInfo
from .bloom_level import BloomLevel
from .blueprint_document import BlueprintDocument
from .blueprint_quality import BlueprintQuality
from .blueprint_status import BlueprintStatus
from .create_token_request import CreateTokenRequest
from .create_topic_request import CreateTopicRequest
from .created_token import CreatedToken
from .error_body import ErrorBody
from .error_code import ErrorCode
from .error_detail import ErrorDetail
from .field_error import FieldError
from .generate_request import GenerateRequest
from .login_request import LoginRequest
from .objective import Objective
from .page_status_view import PageStatusView
from .page_status_view_items_item import PageStatusViewItemsItem
from .page_topic import PageTopic
from .page_topic_items_item import PageTopicItemsItem
from .quality_check import QualityCheck
from .session_info import SessionInfo
from .session_list import SessionList
from .signup_request import SignupRequest
from .status_view import StatusView
from .terminal_objective import TerminalObjective
from .token_list import TokenList
from .topic import Topic
from .update_topic_request import UpdateTopicRequest
from .user import User

__all__ = (
    "ApiTokenInfo",
    "BloomLevel",
    "BlueprintDocument",
    "BlueprintQuality",
    "BlueprintStatus",
    "CreateTokenRequest",
    "CreateTopicRequest",
    "CreatedToken",
    "ErrorBody",
    "ErrorCode",
    "ErrorDetail",
    "FieldError",
    "GenerateRequest",
    "LoginRequest",
    "Objective",
    "PageStatusView",
    "PageStatusViewItemsItem",
    "PageTopic",
    "PageTopicItemsItem",
    "QualityCheck",
    "SessionInfo",
    "SessionList",
    "SignupRequest",
    "StatusView",
    "TerminalObjective",
    "TokenList",
    "Topic",
    "UpdateTopicRequest",
    "User",
)
