#!/usr/bin/env node
// A small command-line tool around a local Kinesis emulator, used by the
// end-to-end tests and the demo. It is independent of the plugin: it reads
// records back with the AWS JavaScript SDK and the AWS deaggregation library,
// exactly as a Lambda or KCL consumer would.
//
//   kinesis-tool.js serve PORTFILE            run kinesalite on 127.0.0.1, free port
//   kinesis-tool.js create ENDPOINT STREAM SHARDS
//   kinesis-tool.js read ENDPOINT STREAM      one JSON line per user record
//   kinesis-tool.js summary ENDPOINT STREAM [SENT]
'use strict';

const fs = require('fs');
const crypto = require('crypto');

function client(endpoint) {
  const { KinesisClient } = require('@aws-sdk/client-kinesis');
  const { NodeHttpHandler } = require('@smithy/node-http-handler');
  return new KinesisClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    requestHandler: new NodeHttpHandler(),
    maxAttempts: 5,
  });
}

async function serve(portFile) {
  const kinesalite = require('kinesalite');
  const server = kinesalite({ createStreamMs: 0, deleteStreamMs: 0, updateStreamMs: 0, shardLimit: 100 });
  server.listen(0, '127.0.0.1', () => {
    const port = server.address().port;
    fs.writeFileSync(portFile + '.tmp', String(port));
    fs.renameSync(portFile + '.tmp', portFile);
    process.stdout.write(`kinesalite listening on 127.0.0.1:${port}\n`);
  });
  const stop = () => server.close(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

async function create(endpoint, stream, shards) {
  const k = require('@aws-sdk/client-kinesis');
  const c = client(endpoint);
  await c.send(new k.CreateStreamCommand({ StreamName: stream, ShardCount: Number(shards) }));
  for (let i = 0; i < 200; i++) {
    const d = await c.send(new k.DescribeStreamSummaryCommand({ StreamName: stream }));
    if (d.StreamDescriptionSummary.StreamStatus === 'ACTIVE') return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`stream ${stream} did not become ACTIVE`);
}

function deaggregate(record) {
  const agg = require('aws-kinesis-agg');
  const v2 = {
    data: Buffer.from(record.Data).toString('base64'),
    partitionKey: record.PartitionKey,
    sequenceNumber: record.SequenceNumber,
  };
  const aggregated = Buffer.from(record.Data).subarray(0, 4).toString('hex') === 'f3899ac2';
  return new Promise((resolve, reject) => {
    agg.deaggregateSync(v2, true, (err, users) => (err ? reject(err) : resolve({ users, aggregated })));
  });
}

function hashKeyOf(pk, ehk) {
  if (ehk) return BigInt(ehk);
  return BigInt('0x' + crypto.createHash('md5').update(Buffer.from(pk, 'utf8')).digest('hex'));
}

// read yields every user record of every shard, oldest first.
async function* read(endpoint, stream) {
  const k = require('@aws-sdk/client-kinesis');
  const c = client(endpoint);
  let shards = [];
  let token;
  do {
    const out = await c.send(new k.ListShardsCommand(token ? { NextToken: token } : { StreamName: stream }));
    shards = shards.concat(out.Shards);
    token = out.NextToken;
  } while (token);
  for (const shard of shards) {
    const start = BigInt(shard.HashKeyRange.StartingHashKey);
    const end = BigInt(shard.HashKeyRange.EndingHashKey);
    let it = (await c.send(new k.GetShardIteratorCommand({
      StreamName: stream, ShardId: shard.ShardId, ShardIteratorType: 'TRIM_HORIZON',
    }))).ShardIterator;
    while (it) {
      const out = await c.send(new k.GetRecordsCommand({ ShardIterator: it, Limit: 10000 }));
      for (const r of out.Records) {
        const { users, aggregated } = await deaggregate(r);
        for (const u of users) {
          const h = hashKeyOf(u.partitionKey, u.explicitPartitionKey);
          yield {
            shard: shard.ShardId,
            seq: r.SequenceNumber,
            sub: u.subSequenceNumber === undefined ? -1 : u.subSequenceNumber,
            aggregated,
            pk: u.partitionKey,
            ehk: u.explicitPartitionKey || '',
            inShard: h >= start && h <= end,
            data: u.data,
          };
        }
      }
      if (out.Records.length === 0 && (out.MillisBehindLatest === 0 || out.MillisBehindLatest === undefined)) break;
      it = out.NextShardIterator;
    }
  }
}

async function summary(endpoint, stream, sent) {
  const perShard = new Map();
  const keys = new Set();
  const samples = [];
  let total = 0, outer = new Set(), outOfShard = 0, bad = 0;
  for await (const u of read(endpoint, stream)) {
    total++;
    outer.add(u.seq);
    keys.add(u.pk);
    perShard.set(u.shard, (perShard.get(u.shard) || 0) + 1);
    if (!u.inShard) outOfShard++;
    const text = Buffer.from(u.data, 'base64').toString('utf8');
    try { JSON.parse(text); } catch (e) { bad++; }
    if (samples.length < 3 && total % 97 === 1) samples.push({ shard: u.shard, pk: u.pk, text });
  }
  const lines = [];
  lines.push(`stream ${stream}`);
  if (sent !== undefined) lines.push(`  records sent by Fluent Bit:   ${sent}`);
  lines.push(`  user records received:        ${total}`);
  lines.push(`  Kinesis records (aggregates): ${outer.size}`);
  lines.push(`  distinct partition keys:      ${keys.size}`);
  lines.push(`  per shard:`);
  for (const [s, n] of [...perShard.entries()].sort()) lines.push(`    ${s}  ${n}`);
  lines.push(`  records outside their shard's hash range: ${outOfShard}`);
  lines.push(`  records that are not valid JSON:          ${bad}`);
  lines.push(`  samples:`);
  for (const s of samples) lines.push(`    [${s.shard}] key=${s.pk}\n      ${s.text.length > 300 ? s.text.slice(0, 300) + '...' : s.text}`);
  process.stdout.write(lines.join('\n') + '\n');
  const ok = total > 0 && outOfShard === 0 && bad === 0 && (sent === undefined || Number(sent) === total);
  if (!ok) {
    process.stderr.write('summary: FAILED (see counts above)\n');
    process.exit(1);
  }
}

async function main() {
  const [cmd, ...args] = process.argv.slice(2);
  switch (cmd) {
    case 'serve': return serve(args[0]);
    case 'create': return create(args[0], args[1], args[2]);
    case 'read': {
      const out = [];
      for await (const u of read(args[0], args[1])) {
        out.push(JSON.stringify(u));
        if (out.length >= 1000) { process.stdout.write(out.join('\n') + '\n'); out.length = 0; }
      }
      if (out.length) process.stdout.write(out.join('\n') + '\n');
      return;
    }
    case 'summary': return summary(args[0], args[1], args[2]);
    default:
      process.stderr.write('usage: kinesis-tool.js serve PORTFILE | create ENDPOINT STREAM SHARDS | read ENDPOINT STREAM | summary ENDPOINT STREAM [SENT]\n');
      process.exit(2);
  }
}

main().catch((e) => { process.stderr.write(`kinesis-tool: ${e.stack || e}\n`); process.exit(1); });
