package fakekinesis

import (
	"encoding/base64"
	"net/http"
	"strings"
)

// ListShards page sizes, as Kinesis has them.
const (
	defaultListShardsPage = 1000
	maxListShardsResults  = 10000
)

func (s *Server) createStream(q *request) {
	var in createStreamInput
	if err := q.wire.decode(q.body, &in); err != nil {
		s.reject(q.w, q.wire, malformedBody)
		return
	}
	if in.StreamName == nil || !validStreamName(*in.StreamName) {
		s.reject(q.w, q.wire, validationError("1 validation error detected: Value at 'streamName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+ and have length between 1 and 128"))
		return
	}
	shards := onDemandShards
	if in.ShardCount != nil {
		shards = *in.ShardCount
	} else if in.StreamModeDetails == nil || in.StreamModeDetails.StreamMode != "ON_DEMAND" {
		s.reject(q.w, q.wire, invalidArgument("ShardCount is required for a stream in PROVISIONED mode."))
		return
	}
	if shards < 1 || shards > MaxShards {
		s.reject(q.w, q.wire, validationError("1 validation error detected: Value at 'shardCount' failed to satisfy constraint: Member must have value between 1 and 10000"))
		return
	}
	maxRecordBytes := s.maxRecordBytes
	if in.MaxRecordSizeInKiB != nil {
		kib := *in.MaxRecordSizeInKiB
		if kib < minRecordSizeKiB || kib > maxRecordSizeKiB {
			s.reject(q.w, q.wire, validationError("1 validation error detected: Value at 'maxRecordSizeInKiB' failed to satisfy constraint: Member must have value between 1024 and 10240"))
			return
		}
		maxRecordBytes = kib << 10
	}
	s.mu.Lock()
	err := s.createStreamLocked(*in.StreamName, shards, maxRecordBytes)
	s.mu.Unlock()
	if err != nil {
		s.reject(q.w, q.wire, &apiError{http.StatusBadRequest, codeResourceInUse,
			"Stream " + *in.StreamName + " under account " + accountID + " already exists."})
		return
	}
	q.wire.writeBody(q.w, http.StatusOK, nil)
}

func (s *Server) describeStreamSummary(q *request) {
	var in describeStreamSummaryInput
	if err := q.wire.decode(q.body, &in); err != nil {
		s.reject(q.w, q.wire, malformedBody)
		return
	}
	s.mu.Lock()
	if s.deniedLocked(q, "DescribeStreamSummary", s.faults.DescribeStreamSummaryDenied, in.streamRef) {
		return
	}
	st, bad := s.lookupStreamLocked(in.streamRef)
	var out describeStreamSummaryOutput
	if st != nil {
		out.StreamDescriptionSummary = streamDescriptionSummary{
			StreamName:              st.name,
			StreamARN:               st.arn(),
			StreamStatus:            "ACTIVE",
			StreamModeDetails:       streamModeDetails{StreamMode: "PROVISIONED"},
			RetentionPeriodHours:    24,
			StreamCreationTimestamp: epochSeconds(st.created.UnixMilli()) / 1000,
			EnhancedMonitoring:      []enhancedMetrics{{ShardLevelMetrics: []string{}}},
			EncryptionType:          "NONE",
			OpenShardCount:          len(st.open),
			MaxRecordSizeInKiB:      st.maxRecordBytes >> 10,
		}
	}
	s.mu.Unlock()
	if bad != nil {
		s.reject(q.w, q.wire, bad)
		return
	}
	q.wire.writeResult(q.w, out)
}

func (s *Server) listShards(q *request) {
	var in listShardsInput
	if err := q.wire.decode(q.body, &in); err != nil {
		s.reject(q.w, q.wire, malformedBody)
		return
	}
	page := defaultListShardsPage
	if in.MaxResults != nil {
		if *in.MaxResults < 1 || *in.MaxResults > maxListShardsResults {
			s.reject(q.w, q.wire, validationError("1 validation error detected: Value at 'maxResults' failed to satisfy constraint: Member must have value between 1 and 10000"))
			return
		}
		page = min(*in.MaxResults, defaultListShardsPage)
	}

	// The stream and the shard to start after come from the token, or from
	// the stream name and ExclusiveStartShardId (or an AFTER_SHARD_ID
	// filter); Kinesis refuses a mix.
	ref, after := in.streamRef, ""
	if in.NextToken != nil {
		if in.StreamName != nil || in.StreamARN != nil || in.ExclusiveStartShardId != nil || in.StreamCreationTimestamp != nil {
			s.reject(q.w, q.wire, invalidArgument("NextToken cannot be provided together with StreamName, StreamARN, ExclusiveStartShardId or StreamCreationTimestamp."))
			return
		}
		name, last, ok := decodeNextToken(*in.NextToken)
		if !ok {
			s.reject(q.w, q.wire, invalidArgument("Invalid NextToken."))
			return
		}
		ref, after = streamRef{StreamName: &name}, last
	} else {
		if in.ExclusiveStartShardId != nil {
			after = *in.ExclusiveStartShardId
		}
		if f := in.ShardFilter; f != nil && f.Type == "AFTER_SHARD_ID" {
			if f.ShardId == nil {
				s.reject(q.w, q.wire, invalidArgument("ShardId is required for the AFTER_SHARD_ID filter."))
				return
			}
			after = max(after, *f.ShardId)
		}
	}

	s.mu.Lock()
	if s.deniedLocked(q, "ListShards", s.faults.ListShardsDenied, ref) {
		return
	}
	st, bad := s.lookupStreamLocked(ref)
	var out listShardsOutput
	if st != nil {
		// Shard ids are zero-padded and only grow, so string order is
		// creation order, which is also hash key order among open shards.
		out.Shards = []shardJSON{}
		for i, sh := range st.open {
			if sh.id <= after {
				continue
			}
			if len(out.Shards) == page {
				out.NextToken = encodeNextToken(st.name, st.open[i-1].id)
				break
			}
			out.Shards = append(out.Shards, shardJSON{
				ShardId:             sh.id,
				HashKeyRange:        hashKeyRange{StartingHashKey: sh.start.String(), EndingHashKey: sh.end.String()},
				SequenceNumberRange: sequenceNumberRange{StartingSequenceNumber: sh.startSeq},
			})
		}
	}
	s.mu.Unlock()
	if bad != nil {
		s.reject(q.w, q.wire, bad)
		return
	}
	q.wire.writeResult(q.w, out)
}

// deniedLocked answers AccessDeniedException for op when denied and the
// request names a stream (existing or not: the policy is checked first),
// counts it as a failed request, releases s.mu and reports true. Otherwise
// it does nothing and keeps s.mu held.
func (s *Server) deniedLocked(q *request, op string, denied bool, ref streamRef) bool {
	name, bad := ref.name()
	if !denied || bad != nil {
		return false
	}
	s.stats.RequestsFailed++
	s.notifyLocked()
	s.mu.Unlock()
	q.wire.writeError(q.w, accessDenied(op, name))
	return true
}

// A NextToken names the stream and the last shard id listed. It is opaque
// to clients, as Kinesis' tokens are.
const nextTokenPrefix = "fk1|"

func encodeNextToken(stream, lastShardID string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(nextTokenPrefix + stream + "|" + lastShardID))
}

func decodeNextToken(token string) (stream, lastShardID string, ok bool) {
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return "", "", false
	}
	rest, ok := strings.CutPrefix(string(raw), nextTokenPrefix)
	if !ok {
		return "", "", false
	}
	stream, lastShardID, ok = strings.Cut(rest, "|")
	return stream, lastShardID, ok && validStreamName(stream)
}
