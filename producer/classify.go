package producer

import (
	"errors"

	"github.com/aws/smithy-go"
)

// errClass is what the producer does about a failed request or entry.
type errClass int

const (
	// classRetry: try again after a backoff, until the record's TTL.
	classRetry errClass = iota
	// classRetryLoud: retry, but log each time: someone must fix the
	// stream or the permissions (ResourceNotFound, AccessDenied, KMS key
	// problems).
	classRetryLoud
	// classPermanent: the service will never accept it as it is.
	classPermanent
)

// classifyCode classifies a Kinesis error code. Anything not known to be
// permanent is retried: throttling (ProvisionedThroughputExceeded,
// KMSThrottling, LimitExceeded), 5xx (InternalFailure, ServiceUnavailable)
// and expired credentials among them. A record is never dropped on a
// guess; its time to live bounds the retries.
func classifyCode(code string) errClass {
	switch code {
	case "ValidationException", "InvalidArgumentException", "SerializationException":
		return classPermanent
	case "ResourceNotFoundException", "AccessDeniedException", "UnrecognizedClientException",
		"KMSAccessDeniedException", "KMSDisabledException", "KMSInvalidStateException",
		"KMSNotFoundException", "KMSOptInRequired", "ResourceInUseException":
		return classRetryLoud
	}
	return classRetry
}

// classifyError classifies a request-level error: an API error by its
// code; anything else (network errors, timeouts, credential retrieval) is
// retried.
func classifyError(err error) (class errClass, code, message string) {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		code = apiErr.ErrorCode()
		return classifyCode(code), code, apiErr.ErrorMessage()
	}
	return classRetry, "", ""
}
