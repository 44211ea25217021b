#!/usr/bin/env node
// Reads the aggregates written by the Go test TestWriteCrossCheckFixtures
// (fixtures.jsonl in the directory given as the only argument), deaggregates
// each one with the AWS deaggregation library for Node.js (aws-kinesis-agg),
// checksums verified, and checks that it gives back exactly the expected user
// records: same count, order, partition keys, explicit hash keys and data.
// Exits non-zero on the first mismatch or library error.
//
// aws-kinesis-agg reports explicit_hash_key_table[0] for a user record that
// has no explicit_hash_key_index (its protobuf decoder defaults the missing
// index to 0). For such records this script checks, with the library's own
// protobuf decoder, that the index is absent from the wire, as the KCL reads
// it.
'use strict';

const fs = require('fs');
const path = require('path');
const agg = require('aws-kinesis-agg');
const aggCommon = require('aws-kinesis-agg/lib/common');

function fail(message) {
  console.error('crosscheck: ' + message);
  process.exit(1);
}

const dir = process.argv[2];
if (!dir) {
  fail('usage: crosscheck.js <fixtures directory>');
}
const lines = fs.readFileSync(path.join(dir, 'fixtures.jsonl'), 'utf8').split('\n').filter((l) => l !== '');
if (lines.length === 0) {
  fail('no fixtures');
}

let userRecords = 0;
for (const line of lines) {
  const fixture = JSON.parse(line);
  const kinesisRecord = {
    partitionKey: 'outer-partition-key',
    sequenceNumber: '49590338271490256608559692538361571095921575989136588898',
    data: fixture.aggregate,
  };
  let result;
  agg.deaggregateSync(kinesisRecord, true, (err, records) => {
    if (err) {
      fail(`${fixture.name}: aws-kinesis-agg failed: ${err.message || err}`);
    }
    result = records;
  });
  if (!Array.isArray(result)) {
    fail(`${fixture.name}: aws-kinesis-agg returned no records`);
  }
  if (result.length !== fixture.records.length) {
    fail(`${fixture.name}: got ${result.length} user records, want ${fixture.records.length}`);
  }
  const raw = Buffer.from(fixture.aggregate, 'base64');
  const message = aggCommon.AggregatedRecord.decode(raw.subarray(4, raw.length - 16));
  fixture.records.forEach((want, i) => {
    const got = result[i];
    const where = `${fixture.name}: user record ${i}`;
    if (got.subSequenceNumber !== i) {
      fail(`${where}: subSequenceNumber ${got.subSequenceNumber}, want ${i}`);
    }
    if (got.partitionKey !== want.pk) {
      fail(`${where}: partition key differs`);
    }
    const hasIndex = Object.prototype.hasOwnProperty.call(message.records[i], 'explicit_hash_key_index');
    if (want.ehk === undefined) {
      if (hasIndex) {
        fail(`${where}: has an explicit hash key index, want none`);
      }
    } else if (!hasIndex || got.explicitPartitionKey !== want.ehk) {
      fail(`${where}: explicit hash key differs`);
    }
    if (got.data !== want.data) {
      fail(`${where}: data differs`);
    }
  });
  userRecords += result.length;
}
console.log(`crosscheck: ${lines.length} aggregates, ${userRecords} user records identical under aws-kinesis-agg`);
