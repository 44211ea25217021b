package fakekinesis

import (
	"net/http"
)

// The Kinesis JSON 1.1 protocol: every call is a POST to "/" naming its
// operation in X-Amz-Target; bodies are JSON, blobs base64, timestamps
// epoch seconds as numbers (or the same in CBOR: cbor.go).
const (
	targetPrefix = "Kinesis_20131202."
	contentType  = "application/x-amz-json-1.1"
)

// Error codes as Kinesis writes them in "__type" and as aws-sdk-go-v2 reports
// them through smithy.APIError.ErrorCode. InternalFailure and
// ServiceUnavailable are the AWS common errors (no namespace, HTTP 500 and
// 503); the others are modeled Kinesis exceptions.
const (
	codeThroughput       = "ProvisionedThroughputExceededException"
	codeInternalFailure  = "InternalFailure"
	codeUnavailable      = "ServiceUnavailable"
	codeResourceNotFound = "ResourceNotFoundException"
	codeResourceInUse    = "ResourceInUseException"
	codeAccessDenied     = "AccessDeniedException"
	codeValidation       = "ValidationException"
	codeInvalidArgument  = "InvalidArgumentException"
	codeSerialization    = "SerializationException"
	codeUnknownOperation = "UnknownOperationException"
)

// Fixed identity of the fake account, used in ARNs and error messages.
const (
	accountID = "000000000000"
	region    = "us-east-1"
)

// apiError is a whole-request error response.
type apiError struct {
	status  int
	code    string
	message string
}

var serviceUnavailable = &apiError{http.StatusServiceUnavailable, codeUnavailable, "Service unavailable."}

// accessDenied is the answer to an operation the caller's policy does not
// allow on the named stream.
func accessDenied(op, stream string) *apiError {
	return &apiError{http.StatusBadRequest, codeAccessDenied,
		"User: arn:aws:iam::" + accountID + ":user/fake is not authorized to perform: kinesis:" + op + " on resource: " + streamARN(stream)}
}

func validationError(message string) *apiError {
	return &apiError{http.StatusBadRequest, codeValidation, message}
}

func invalidArgument(message string) *apiError {
	return &apiError{http.StatusBadRequest, codeInvalidArgument, message}
}

func streamNotFound(name string) *apiError {
	return &apiError{http.StatusBadRequest, codeResourceNotFound,
		"Stream " + name + " under account " + accountID + " not found."}
}

func throughputExceeded(shardID, stream string) string {
	return "Rate exceeded for shard " + shardID + " in stream " + stream + " under account " + accountID + "."
}

const internalFailureMessage = "Internal service failure."

// errorBody is the JSON body of an error response. aws-sdk-go-v2 takes the
// code from the X-Amzn-ErrorType header when present, else from "__type"
// (stripping any "namespace#" prefix), and the message from "message".
type errorBody struct {
	Type    string `json:"__type"`
	Message string `json:"message,omitempty"`
}

// Requests. Pointers tell an absent member from an empty one, as Kinesis
// validation does.

type streamRef struct {
	StreamName *string
	StreamARN  *string
}

type createStreamInput struct {
	StreamName         *string
	ShardCount         *int
	MaxRecordSizeInKiB *int
	StreamModeDetails  *struct{ StreamMode string }
}

type describeStreamSummaryInput struct {
	streamRef
}

type listShardsInput struct {
	streamRef
	NextToken               *string
	ExclusiveStartShardId   *string
	MaxResults              *int
	StreamCreationTimestamp any
	ShardFilter             *struct {
		Type    string
		ShardId *string
	}
}

type putRecordsEntry struct {
	Data            []byte
	PartitionKey    *string
	ExplicitHashKey *string
}

type putRecordsInput struct {
	streamRef
	Records []putRecordsEntry
}

type putRecordInput struct {
	streamRef
	putRecordsEntry
	SequenceNumberForOrdering *string
}

// Responses.

type hashKeyRange struct {
	StartingHashKey string
	EndingHashKey   string
}

type sequenceNumberRange struct {
	StartingSequenceNumber string
	EndingSequenceNumber   string `json:",omitempty"`
}

type shardJSON struct {
	ShardId             string
	HashKeyRange        hashKeyRange
	SequenceNumberRange sequenceNumberRange
}

type listShardsOutput struct {
	Shards    []shardJSON
	NextToken string `json:",omitempty"`
}

type streamModeDetails struct {
	StreamMode string
}

type enhancedMetrics struct {
	ShardLevelMetrics []string
}

type streamDescriptionSummary struct {
	StreamName              string
	StreamARN               string
	StreamStatus            string
	StreamModeDetails       streamModeDetails
	RetentionPeriodHours    int
	StreamCreationTimestamp epochSeconds
	EnhancedMonitoring      []enhancedMetrics
	EncryptionType          string
	OpenShardCount          int
	ConsumerCount           int
	MaxRecordSizeInKiB      int
}

type describeStreamSummaryOutput struct {
	StreamDescriptionSummary streamDescriptionSummary
}

type putRecordsResultEntry struct {
	SequenceNumber string `json:",omitempty"`
	ShardId        string `json:",omitempty"`
	ErrorCode      string `json:",omitempty"`
	ErrorMessage   string `json:",omitempty"`
}

type putRecordsOutput struct {
	FailedRecordCount int
	Records           []putRecordsResultEntry
	EncryptionType    string
}

type putRecordOutput struct {
	ShardId        string
	SequenceNumber string
	EncryptionType string
}
