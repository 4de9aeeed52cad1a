"""The error a Vtiger operation answers with: a code and a message, as webservice.php sends them."""

# Codes and messages as the open-source 8.x server spells them (WebServiceErrorCode.php),
# typos included: clients match on them.
ACCESS_DENIED = "ACCESS_DENIED"
AUTHENTICATION_REQUIRED = "AUTHENTICATION_REQUIRED"
DATABASE_QUERY_ERROR = "DATABASE_QUERY_ERROR"
INTERNAL_SERVER_ERROR = "INTERNAL_SERVER_ERROR"
INVALID_AUTH_TOKEN = "INVALID_AUTH_TOKEN"  # noqa: S105 - an error code, not a secret
INVALID_ID_ATTRIBUTE = "INVALID_ID_ATTRIBUTE"
INVALID_SESSIONID = "INVALID_SESSIONID"
INVALID_USER_CREDENTIALS = "INVALID_USER_CREDENTIALS"
MANDATORY_FIELDS_MISSING = "MANDATORY_FIELDS_MISSING"
QUERY_SYNTAX_ERROR = "QUERY_SYNTAX_ERROR"
RATE_LIMIT_EXCEEDED = "RATE_LIMIT_EXCEEDED"
UNKNOWN_OPERATION = "UNKNOWN_OPERATION"

DATABASE_ERROR_MESSAGE = "Database error while performing required operation"
INTERNAL_ERROR_MESSAGE = "Unknown Error while processing request"


class VtigerError(Exception):
    """A failed Vtiger call; becomes {"success": false, "error": {"code", "message"}}."""

    def __init__(self, code, message):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message

    def envelope(self):
        # Key order as the 8.2 server writes it (message first).
        return {"success": False, "error": {"message": self.message, "code": self.code}}


def access_denied_for_name(name):
    return VtigerError(ACCESS_DENIED, f"Permission to perform the operation is denied for name : {name}")
