// Named limits of admitd. Flags may lower or raise the *_default values within
// the *_min..*_max bounds below; everything else is fixed at build time. Each
// limit, when reached, gives a clear answer (OVERLOADED or INVALID naming it)
// or a clear error at start-up; nothing grows without bound.
#pragma once

#include <cstddef>
#include <cstdint>

#include "admit/limits.h"

namespace admit::server {

// --listen and the per-shard ports base+1+i.
inline constexpr std::uint16_t listen_port_default = 7400;
inline constexpr int listen_backlog = 4096;

// --max-connections: across all shards. Past it a new connection gets one
// OVERLOADED reply and is closed.
inline constexpr std::uint32_t connections_default = 16384;
inline constexpr std::uint32_t connections_max = 1u << 20;

// --max-inflight: requests of one connection not yet answered. At the limit
// the server stops reading that connection until answers go out.
inline constexpr std::uint32_t inflight_default = 4096;
inline constexpr std::uint32_t inflight_max = 1u << 20;

// --max-send-queue-bytes: reply bytes queued for one connection. At the limit
// the server stops reading it; if the queue stays full for
// slow_reader_timeout_ms the connection is dropped.
inline constexpr std::size_t send_queue_bytes_default = 8u << 20;
inline constexpr std::size_t send_queue_bytes_min = 4096;
inline constexpr std::size_t send_queue_bytes_max = 1u << 30;
inline constexpr std::int64_t slow_reader_timeout_ms = 2000;

// --frame-timeout-ms: a binary frame (its length prefix or its body) not
// received whole within this of its first byte closes the connection: a
// half-open or stalled peer holds neither a slot nor a reassembly buffer.
inline constexpr std::int64_t frame_timeout_ms_default = 10'000;
inline constexpr std::int64_t frame_timeout_ms_min = 100;
inline constexpr std::int64_t frame_timeout_ms_max = 3'600'000;

// --http: the HTTP adapter listens at the base port + this by default.
inline constexpr std::uint16_t http_port_offset = 80;

// --watch-interval-ms: watchers get at most one update per event per
// interval (coalesced: the latest state). 0: at every change, as fast as
// rounds go (watch_round_min_ms apart). SSE connections get a comment line
// every sse_heartbeat_ms so proxies keep them.
inline constexpr std::uint32_t watch_interval_ms_default = 100;
inline constexpr std::uint32_t watch_interval_ms_max = 60'000;
inline constexpr std::uint32_t watch_round_min_ms = 1;
inline constexpr std::int64_t sse_heartbeat_ms = 15'000;
// A watcher with this many bytes (or --max-send-queue-bytes / 2, if less)
// still queued is skipped by a round: it gets the latest state once it reads.
inline constexpr std::size_t watch_backlog_bytes_max = 64 * 1024;

// --metrics-events: events whose counters /metrics shows as gauges (the
// first ones in id order), so the number of series stays bounded.
inline constexpr std::uint32_t metrics_events_default = 100;
inline constexpr std::uint32_t metrics_events_max = 10'000;

// --ring-size: slots of each cross-shard SPSC ring (a power of two). A full
// request ring is an OVERLOADED answer.
inline constexpr std::uint32_t ring_slots_default = 4096;
inline constexpr std::uint32_t ring_slots_min = 16;
inline constexpr std::uint32_t ring_slots_max = 1u << 16;

// Bytes of one connection's reassembly buffer: one whole frame plus the
// receive buffers already in flight when reading pauses.
inline constexpr std::size_t pending_bytes_max = frame_header_size + frame_size_max + (4u << 20);

// Provided receive buffers per shard (io_uring buffer ring; a power of two).
inline constexpr std::uint32_t recv_buffer_count = 512;
inline constexpr std::uint32_t recv_buffer_size = 16 * 1024;

// io_uring queue sizes per shard.
inline constexpr std::uint32_t uring_sq_entries = 4096;
inline constexpr std::uint32_t uring_cq_entries = 4 * uring_sq_entries;

// Reply frames: a frame being built for a connection is finished and queued
// once it holds this many bytes (frame_size_max is the hard wire limit; one
// reply is at most a list page, far below the difference).
inline constexpr std::size_t reply_frame_bytes_soft_max = 256 * 1024;

// Published event directory: events one shard may own. A CreateEvent past it
// is OVERLOADED naming the limit.
inline constexpr std::uint32_t events_per_shard_max = 1u << 16;

// --users-reserved: users each shard's table is sized for at start (about one
// byte each up front, storage::Options::users_reserved).
inline constexpr std::uint64_t users_reserved_max = 100'000'000;

// Messages (refusal reasons) copied across shards are cut to this size.
inline constexpr std::size_t message_size_max = 200;

// The write-ahead log (durability strict and batched).
// --sync-interval-ms: batched mode flushes this often.
inline constexpr std::uint32_t sync_interval_ms_default = 100;
inline constexpr std::uint32_t sync_interval_ms_max = 60'000;
// --map-size / --map-size-max (default 1GiB and 64GiB): each shard's LMDB map
// starts at the first and doubles up to the second; past it writes answer
// UNAVAILABLE.
inline constexpr std::size_t map_size_min = std::size_t{64} << 10;
inline constexpr std::size_t map_size_limit = std::size_t{1} << 44;  // 16 TiB
// --checkpoint-records / --checkpoint-seconds: a checkpoint (which trims the
// log) after this many records or this long, whichever comes first.
inline constexpr std::uint64_t checkpoint_records_default = 1'000'000;
inline constexpr std::uint64_t checkpoint_records_max = 1'000'000'000;
inline constexpr std::uint32_t checkpoint_seconds_default = 300;
inline constexpr std::uint32_t checkpoint_seconds_max = 7 * 24 * 3600;

// Batches (reactor turns with changes) sealed and waiting for the disk, per
// shard. Past it a mutation answers OVERLOADED. Many turns pass during one
// fsync under pipelined load; the bytes they hold are bounded below.
inline constexpr std::uint32_t wal_sealed_batches_max = 1024;
inline constexpr std::size_t wal_sealed_bytes_max = std::size_t{64} << 20;

// Housekeeping tick: slow-reader and stalled-frame checks, request-id retention, lost wakes.
inline constexpr std::int64_t housekeeping_interval_ms = 100;

// On a clean stop, how long a shard waits for its cancelled accepts to end
// (they hold the listening sockets, so the port is free only after).
inline constexpr std::int64_t shutdown_accept_wait_ms = 1000;

}  // namespace admit::server
