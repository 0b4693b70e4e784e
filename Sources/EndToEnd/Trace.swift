import ClickHouse
import Diagnostics
import Foundation
import Kafka
import Manifest
import MySQL
import OperationsCore
import Polling
import Processor
import Producers

/// Where a key's records are. Kafka's Java default partitioner (murmur2 of the key bytes, made
/// positive, modulo the partition count) is where Connect's producer put an order's events,
/// keyed `{"order_id":N}`; cdcctl's own producers (trades) use librdkafka's CRC-32.
public enum KafkaPartitioner {
    public static func murmur2(_ data: [UInt8]) -> Int32 {
        let seed: UInt32 = 0x9747b28c, m: UInt32 = 0x5bd1e995, r: UInt32 = 24
        let length = data.count
        var h = seed ^ UInt32(truncatingIfNeeded: length)
        let words = length / 4
        for i in 0..<words {
            let j = i * 4
            var k = UInt32(data[j]) | UInt32(data[j + 1]) << 8 | UInt32(data[j + 2]) << 16 | UInt32(data[j + 3]) << 24
            k = k &* m
            k ^= k >> r
            k = k &* m
            h = h &* m
            h ^= k
        }
        let tail = words * 4
        switch length % 4 {
        case 3:
            h ^= UInt32(data[tail + 2]) << 16
            h ^= UInt32(data[tail + 1]) << 8
            h ^= UInt32(data[tail])
            h = h &* m
        case 2:
            h ^= UInt32(data[tail + 1]) << 8
            h ^= UInt32(data[tail])
            h = h &* m
        case 1:
            h ^= UInt32(data[tail])
            h = h &* m
        default: break
        }
        h ^= h >> 13
        h = h &* m
        h ^= h >> 15
        return Int32(bitPattern: h)
    }

    public static func partition(key: [UInt8], partitions: Int) -> Int32 {
        Int32((Int(murmur2(key)) & 0x7fffffff) % max(1, partitions))
    }

    /// librdkafka's `consistent_random` partitioner (its default, which cdcctl's producers pin):
    /// CRC-32 (IEEE, as zlib's) of the key modulo the partition count.
    public static func crc32Partition(key: [UInt8], partitions: Int) -> Int32 {
        Int32(Int(crc32(key)) % max(1, partitions))
    }

    static let crcTable: [UInt32] = (0..<256).map { n in
        var c = UInt32(n)
        for _ in 0..<8 { c = c & 1 == 1 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    public static func crc32(_ data: [UInt8]) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for b in data { c = crcTable[Int((c ^ UInt32(b)) & 0xFF)] ^ (c >> 8) }
        return c ^ 0xFFFF_FFFF
    }

    /// Debezium's key for an order with the JSON converter without schemas.
    public static func orderKey(_ id: UInt64) -> [UInt8] { Array("{\"order_id\":\(id)}".utf8) }
}

/// `cdcctl trace order <id>` / `trace trade <symbol> <trade_id>`: one change followed through
/// every hop, with the time at each and the first hop where it is missing.
public struct TraceResult: Sendable, Codable {
    public struct HopState: Sendable, Codable, Equatable {
        public var hop: String
        public var found: Bool
        /// When the change was at this hop (ms since the epoch; the clock is named in `detail`).
        public var atMs: Int64?
        public var detail: String
    }

    /// `trace order`'s order; nil for a trade.
    public var orderId: UInt64?
    /// `trace trade`'s symbol and trade id; nil for an order.
    public var symbol: String?
    public var tradeId: String?
    public var topic: String
    public var partition: Int32?
    public var offset: Int64?
    public var hops: [HopState]
    /// The first hop without the change; nil when it is everywhere.
    public var missingAt: String?
}

public enum TraceOperation {
    struct RawRow: Decodable { var partition: Int32; var offset: Int64; var op: String; var ingested: Int64 }
    struct CurrentRow: Decodable { var version: UInt64; var status: String; var is_deleted: UInt8 }

    public static func order(_ ws: Workspace, manifest m: Manifest, id: UInt64, scanSeconds: Double = 15,
                             progress: (String) -> Void) throws -> TraceResult {
        let secrets = try ws.resolveSecrets(m)
        let config = ProcessorConfig(manifest: m)
        let topic = config.ordersTopic
        var hops: [TraceResult.HopState] = []

        // 1. MySQL: the row as it is now (MySQL's clock; updated_at read as UTC like Debezium does).
        let mysql = try MySQLConnection(MySQLEndpoint(host: m.access.mysqlHost, port: m.access.mysqlPort, user: "root",
                                                      password: secrets.mysqlRootPassword, database: m.source.database), timeoutSeconds: 5)
        let row = try mysql.query("""
            SELECT status, DATE_FORMAT(updated_at, '%Y-%m-%d %H:%i:%s.%f'), ROUND(UNIX_TIMESTAMP(updated_at) * 1000),
                   TIMESTAMPDIFF(SECOND, UTC_TIMESTAMP(), NOW()) FROM orders WHERE order_id = \(id)
            """).rows.first
        let status = row?[0] ?? nil
        let updatedMs = row.flatMap { $0[2] }.flatMap { Double($0) }.map { Int64($0) }
        let tzMs = row.flatMap { $0[3] }.flatMap { Int64($0) }.map { Int64((Double($0) / 900).rounded()) * 900_000 } ?? 0
        hops.append(.init(hop: "mysql", found: row != nil, atMs: updatedMs,
                          detail: row == nil ? "no row in \(m.source.database).orders (deleted, or never written): following its last event"
                              : "status \(status ?? "?"), updated_at \(row?[1] ?? "?") (MySQL's clock)"))

        // 2. Kafka: the partition its key hashes to; the events found there from the processor's
        // committed offset on, and the ones ClickHouse recorded (read back at their offsets).
        let settings = KafkaSettings(bootstrap: m.access.kafkaBootstrap, clientId: "cdcctl-trace")
        let md = try KafkaAdmin(settings).metadata()
        guard let info = md.topics.first(where: { $0.name == topic && $0.error == nil }) else {
            throw CdcError.invalid("topic '\(topic)' does not exist", subject: "processor.ordersTopic", fix: "run `cdcctl topics apply`")
        }
        let key = KafkaPartitioner.orderKey(id)
        let partition = KafkaPartitioner.partition(key: key, partitions: info.partitions.count)
        let ch = ClickHouseClient(ws.clickhouse(m, secrets: secrets))
        let raw = (try? ch.select("""
            SELECT partition, offset, op, toInt64(toUnixTimestamp64Milli(ingested_at)) AS ingested FROM \(m.clickhouse.database).cdc_orders_raw
            WHERE order_id = {id:UInt64} AND topic = {topic:String} ORDER BY offset
            """, as: RawRow.self, parameters: ["id": String(id), "topic": topic])) ?? []
        let probe = try KafkaConsumer(settings, group: m.processor.consumerGroup)
        let committed = (try? probe.committed([(topic, partition)]))?.first.map(\.offset) ?? -1
        let reader = try KafkaConsumer(settings, group: "cdcctl-trace-\(UUID().uuidString.prefix(8).lowercased())", partitionEnds: true)
        var events: [(offset: Int64, timestamp: Int64, value: [String: Any])] = []
        func keep(_ msg: ConsumedMessage) {
            guard msg.key == key, let v = msg.value,
                  let o = try? JSONSerialization.jsonObject(with: Data(v)) as? [String: Any] else { return }
            if !events.contains(where: { $0.offset == msg.offset }) { events.append((msg.offset, msg.timestampMs, o)) }
        }
        for r in raw where r.partition == partition {
            try reader.assign([(topic, partition, r.offset)])
            if let msg = try Self.pollOne(reader, seconds: 5), msg.offset == r.offset { keep(msg) }
        }
        // Unprocessed events: from the committed offset (or the last recorded one) to the end.
        let from = max(committed, (raw.last?.offset ?? -1) + 1)
        progress("scanning \(topic)[\(partition)] from \(from >= 0 ? "offset \(from)" : "the beginning") for key {\"order_id\":\(id)} (up to \(Int(scanSeconds)) s)")
        try reader.readToEnd(from: [(topic, partition, from >= 0 ? from : -2)], seconds: scanSeconds) { keep($0); return false }
        events.sort { $0.offset < $1.offset }
        // The change MySQL holds now is the event whose after image has its updated_at; for a
        // deleted row, the last event.
        let latest = events.last { e in
            guard let updatedMs else { return true }
            let after = e.value["after"] as? [String: Any]
            return (after?["updated_at"] as? NSNumber).map { $0.int64Value - tzMs == updatedMs } ?? false
        } ?? (row == nil ? events.last : nil)
        if let e = latest {
            let source = e.value["source"] as? [String: Any] ?? [:]
            let gtid = (source["gtid"] as? String).map { ", GTID \($0)" } ?? ""
            hops.append(.init(hop: "debezium", found: true, atMs: (e.value["ts_ms"] as? NSNumber)?.int64Value,
                              detail: "op \(e.value["op"] ?? "?"), binlog \(source["file"] ?? "?"):\(source["pos"] ?? "?") row \(source["row"] ?? "?")\(gtid) (envelope ts_ms: Connect's clock)"))
            hops.append(.init(hop: "kafka", found: true, atMs: e.timestamp, detail: "\(topic)[\(partition)]@\(e.offset) (record timestamp)"))
        } else {
            let why = events.isEmpty ? "no event with its key in \(topic)[\(partition)]" : "\(events.count) event(s), none with MySQL's updated_at yet"
            hops.append(.init(hop: "debezium", found: false, atMs: nil, detail: why + " — check `cdcctl connector status`"))
            hops.append(.init(hop: "kafka", found: false, atMs: nil, detail: why))
        }

        // 3. The processor: has its committed offset passed the event?
        let high = try? reader.watermarks(topic: topic, partition: partition).high
        if let e = latest {
            let passed = committed > e.offset
            let lag = high.map { $0 - max(committed, 0) }
            hops.append(.init(hop: "processor", found: passed, atMs: nil,
                              detail: "group \(m.processor.consumerGroup) committed \(committed < 0 ? "nothing" : String(committed)) on partition \(partition)"
                                  + (passed ? " (past \(e.offset))" : " (not past \(e.offset): not processed yet — is `cdcctl process run` running?)")
                                  + (lag.map { ", lag \($0)" } ?? "")))
        } else {
            hops.append(.init(hop: "processor", found: false, atMs: nil, detail: "nothing to process yet"))
        }

        // 4. ClickHouse: the raw row at the event's offset, and orders_current's version.
        let current = (try? ch.select("""
            SELECT version, status, is_deleted FROM \(m.clickhouse.database).orders_current FINAL WHERE order_id = {id:UInt64}
            """, as: CurrentRow.self, parameters: ["id": String(id)]))?.first
        if let e = latest, let r = raw.first(where: { $0.partition == partition && $0.offset == e.offset }) {
            hops.append(.init(hop: "clickhouse", found: true, atMs: r.ingested,
                              detail: "cdc_orders_raw row (\(r.op)) at offset \(r.offset), \(raw.count) raw row(s) for the order; orders_current "
                                  + (current.map { "version \($0.version), status \($0.status)\($0.is_deleted == 1 ? ", deleted" : "")" } ?? "has no row")
                                  + " (ingested_at: ClickHouse's clock)"))
        } else {
            hops.append(.init(hop: "clickhouse", found: false, atMs: nil,
                              detail: "\(raw.count) raw row(s) for the order, none for its latest change" + (current.map { "; orders_current at version \($0.version)" } ?? "")))
        }
        let missing = hops.first { !$0.found && $0.hop != "mysql" }?.hop
        return TraceResult(orderId: id, topic: topic, partition: partition, offset: latest?.offset, hops: hops, missingAt: missing)
    }

    struct TradeRow: Decodable { var partition: Int32; var offset: Int64; var traded: Int64; var ingested: Int64; var price: String }
    struct RejectRow: Decodable { var partition: Int32; var offset: Int64; var stage: String; var reason: String }
    struct WindowRow: Decodable { var trade_count: UInt64; var version: UInt64 }
    struct Newest: Decodable { var newest: Int64 }

    /// A trade from the producer's record in Kafka to its `trades` row and its window in
    /// ClickHouse. The trades topic is keyed by symbol (librdkafka's CRC-32 partitioner), and
    /// each `trades` row carries its record's partition and offset (migration 0007), so a
    /// processed trade is found at its offset; an unprocessed one by scanning its partition from
    /// the processor's committed offset; a quarantined one in `processor_rejects`.
    public static func trade(_ ws: Workspace, manifest m: Manifest, symbol: String, tradeId: String, scanSeconds: Double = 15,
                             progress: (String) -> Void) throws -> TraceResult {
        let secrets = try ws.resolveSecrets(m)
        let config = ProcessorConfig(manifest: m)
        let topic = config.tradesTopic
        let db = m.clickhouse.database
        var hops: [TraceResult.HopState] = []
        let settings = KafkaSettings(bootstrap: m.access.kafkaBootstrap, clientId: "cdcctl-trace")
        let md = try KafkaAdmin(settings).metadata()
        guard let info = md.topics.first(where: { $0.name == topic && $0.error == nil }) else {
            throw CdcError.invalid("topic '\(topic)' does not exist", subject: "processor.tradesTopic", fix: "run `cdcctl topics apply`")
        }
        let key = Array(symbol.utf8)
        let partition = KafkaPartitioner.crc32Partition(key: key, partitions: info.partitions.count)
        let ch = ClickHouseClient(ws.clickhouse(m, secrets: secrets))
        let params = ["s": symbol, "t": tradeId, "topic": topic]
        let stored = (try? ch.select("""
            SELECT partition, offset, toInt64(toUnixTimestamp64Milli(traded_at)) AS traded,
                   toInt64(toUnixTimestamp64Milli(ingested_at)) AS ingested, toString(price) AS price
            FROM \(db).trades FINAL WHERE symbol = {s:String} AND trade_id = {t:String}
            """, as: TradeRow.self, parameters: params))?.first
        let needle = "\"trade_id\":\(TradeLine.quoted(tradeId))"
        let rejected = (try? ch.select("""
            SELECT toInt32(partition) AS partition, offset, toString(stage) AS stage, reason FROM \(db).processor_rejects
            WHERE topic = {topic:String} AND position(payload, {n:String}) > 0 LIMIT 1
            """, as: RejectRow.self, parameters: ["topic": topic, "n": needle]))?.first

        // 1. Kafka: the record at the row's offset, or found by scanning the unprocessed part.
        let probe = try KafkaConsumer(settings, group: m.processor.consumerGroup)
        let committed = (try? probe.committed([(topic, partition)]))?.first.map(\.offset) ?? -1
        let reader = try KafkaConsumer(settings, group: "cdcctl-trace-\(UUID().uuidString.prefix(8).lowercased())", partitionEnds: true)
        func matches(_ msg: ConsumedMessage) -> Bool {
            guard msg.key == key, let v = msg.value, let text = msg.valueString, text.contains(needle) else { return false }
            return ((try? JSONSerialization.jsonObject(with: Data(v))) as? [String: Any])?["trade_id"] as? String == tradeId
        }
        var record: ConsumedMessage?
        if let known = stored.map(\.offset) ?? rejected.map(\.offset), known >= 0 {
            let p = stored?.partition ?? rejected?.partition ?? partition
            try reader.assign([(topic, p, known)])
            if let msg = try Self.pollOne(reader, seconds: 5), msg.offset == known, matches(msg) { record = msg }
        } else {
            progress("scanning \(topic)[\(partition)] from \(committed >= 0 ? "offset \(committed)" : "the beginning") for \(symbol) \(tradeId) (up to \(Int(scanSeconds)) s)")
            try reader.readToEnd(from: [(topic, partition, committed >= 0 ? committed : -2)], seconds: scanSeconds) { msg in
                if matches(msg) { record = msg }
                return record != nil
            }
        }
        let tradedMs = record.flatMap { r in r.value.flatMap { ((try? JSONSerialization.jsonObject(with: Data($0))) as? [String: Any])?["ts_ms"] as? NSNumber } }?.int64Value
            ?? stored?.traded
        if let r = record {
            hops.append(.init(hop: "kafka", found: true, atMs: r.timestampMs,
                              detail: "\(topic)[\(r.partition)]@\(r.offset) (record timestamp: the producer's clock); traded at "
                                  + (tradedMs.map { UTCTime.format($0, milliseconds: true) } ?? "?") + " (the exchange's clock)"))
        } else {
            let why = stored != nil ? "the trades row names \(topic)[\(stored!.partition)]@\(stored!.offset), which no longer holds it (retention?)"
                : "no record keyed \(symbol) with trade_id \(tradeId) in \(topic)[\(partition)] past the committed offset — is the producer running? (`cdcctl status`)"
            hops.append(.init(hop: "kafka", found: stored != nil && stored!.offset >= 0, atMs: nil, detail: why))
        }

        // 2. The processor: past the record, or quarantined.
        let position = record.map { ($0.partition, $0.offset) } ?? stored.map { ($0.partition, $0.offset) }
        let high = try? reader.watermarks(topic: topic, partition: position?.0 ?? partition).high
        if let q = rejected {
            hops.append(.init(hop: "processor", found: false, atMs: nil,
                              detail: "quarantined at \(q.stage) (\(topic)[\(q.partition)]@\(q.offset)): \(q.reason) — see processor_rejects"))
        } else if let (p, offset) = position, offset >= 0 {
            let passed = committed > offset || stored != nil
            hops.append(.init(hop: "processor", found: passed, atMs: nil,
                              detail: "group \(m.processor.consumerGroup) committed \(committed < 0 ? "nothing" : String(committed)) on partition \(p)"
                                  + (passed ? " (past \(offset))" : " (not past \(offset): not processed yet — is `cdcctl process run` running?)")
                                  + (high.map { ", lag \($0 - max(committed, 0))" } ?? "")))
        } else {
            hops.append(.init(hop: "processor", found: false, atMs: nil, detail: "nothing to process yet"))
        }

        // 3. ClickHouse: the trades row, then its window.
        if let row = stored {
            hops.append(.init(hop: "clickhouse", found: true, atMs: row.ingested,
                              detail: "trades row at price \(row.price)" + (row.offset >= 0 ? " from offset \(row.offset)" : " (written before migration 0007: no offset)")
                                  + " (ingested_at: ClickHouse's clock)"))
        } else {
            hops.append(.init(hop: "clickhouse", found: false, atMs: nil, detail: "no row in \(db).trades for \(symbol) \(tradeId)"))
        }
        var windowStillOpen = false
        if let t = tradedMs, stored != nil {
            let windowMs = config.windowMs
            let start = t - ((t % windowMs) + windowMs) % windowMs
            let window = (try? ch.select("""
                SELECT trade_count, version FROM \(db).trade_aggregates FINAL
                WHERE symbol = {s:String} AND window_minutes = \(config.windowMinutes) AND window_start = fromUnixTimestamp64Milli(toInt64(\(start)))
                """, as: WindowRow.self, parameters: ["s": symbol]))?.first
            let newest = (try? ch.select("SELECT toInt64(toUnixTimestamp64Milli(max(traded_at))) AS newest FROM \(db).trades WHERE symbol = {s:String}",
                                         as: Newest.self, parameters: ["s": symbol]))?.first?.newest ?? t
            let span = "[\(UTCTime.format(start, milliseconds: false)), +\(config.windowMinutes) min)"
            if let w = window {
                hops.append(.init(hop: "window", found: true, atMs: nil, detail: "trade_aggregates \(span): \(w.trade_count) trade(s), version \(w.version)"))
            } else {
                // Written when the watermark passes the window's end (or the idle rule writes it).
                windowStillOpen = newest < start + windowMs + config.watermarkDelayMs
                hops.append(.init(hop: "window", found: false, atMs: nil,
                                  detail: "trade_aggregates \(span) not written yet" + (windowStillOpen
                                      ? ": the window is still open (written when the watermark passes its end; not a missing hop)"
                                      : " although newer trades of \(symbol) passed its end")))
            }
        }
        let missing = hops.first { !$0.found && !($0.hop == "window" && windowStillOpen) }?.hop
        return TraceResult(orderId: nil, symbol: symbol, tradeId: tradeId, topic: topic, partition: position?.0 ?? partition,
                           offset: position?.1, hops: hops, missingAt: missing)
    }

    static func pollOne(_ c: KafkaConsumer, seconds: Double) throws -> ConsumedMessage? {
        try Poll.until(Deadline(seconds: seconds), backoff: .every(0)) { try c.poll(timeoutMs: 200) }
    }
}

