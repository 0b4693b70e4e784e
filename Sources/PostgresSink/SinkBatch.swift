import Foundation
import Processor

/// What one consumed record means for the PostgreSQL tables. Pure: decoded with the processor's
/// Debezium decoder (which keeps the before/after JSON as received).
public enum SinkChange: Sendable, Equatable {
    case order(ChangeEvent<OrderRow>, RecordPosition)
    case execution(ChangeEvent<ExecutionRow>, RecordPosition)
    /// Debezium's tombstone after a delete: nothing to write (the delete already removed the row).
    case tombstone(RecordPosition)
    /// A record that cannot be decoded: quarantined in `sink_rejects`.
    case reject(SinkReject)

    public var position: RecordPosition {
        switch self {
        case .order(_, let p), .execution(_, let p), .tombstone(let p): p
        case .reject(let r): r.position
        }
    }
}

public struct SinkReject: Sendable, Equatable {
    public var position: RecordPosition
    /// `decode` (the record is not a Debezium change of the table) or `insert` (PostgreSQL refused its values).
    public var stage: String
    public var reason: String
    public var key: [UInt8]?
    public var value: [UInt8]?
}

/// Which table a topic feeds.
public enum SinkTable: String, Sendable {
    case orders, orderExecutions = "order_executions"
}

public enum SinkDecoder {
    /// Decodes one record of `table`'s topic.
    public static func decode(_ table: SinkTable, position p: RecordPosition, key: [UInt8]?, value: [UInt8]?) -> SinkChange {
        func with<R>(_ bytes: [UInt8]?, _ body: (UnsafeRawBufferPointer?) -> R) -> R {
            guard let bytes else { return body(nil) }
            return bytes.withUnsafeBytes { body($0) }
        }
        return with(key) { k in
            with(value) { v in
                do {
                    switch table {
                    case .orders:
                        switch try Debezium.decodeOrder(key: k, value: v, at: p) {
                        case .change(let e): return .order(e, p)
                        case .tombstone: return .tombstone(p)
                        }
                    case .orderExecutions:
                        switch try Debezium.decodeExecution(key: k, value: v, at: p) {
                        case .change(let e): return .execution(e, p)
                        case .tombstone: return .tombstone(p)
                        }
                    }
                } catch {
                    return .reject(SinkReject(position: p, stage: "decode", reason: String(describing: error), key: key, value: value))
                }
            }
        }
    }
}

/// The statements' inputs for one batch, planned purely from its changes in consumption order
/// (offset order within each partition).
public struct SinkPlan: Sendable, Equatable {
    public struct History: Sendable, Equatable {
        public var id: Int64
        public var op: String
        public var before: String?
        public var after: String?
        public var sourceTsMs: Int64
        public var position: RecordPosition
    }

    /// The batch's changes as consumed (isolation replays them one by one).
    public var changes: [SinkChange] = []
    public var orderHistory: [History] = []
    public var executionHistory: [History] = []
    /// A key's last image in the batch, when its source committed it, and its record.
    public struct Upsert<Row: Sendable & Equatable>: Sendable, Equatable {
        public var row: Row
        public var sourceTsMs: Int64
        public var position: RecordPosition
    }

    /// The last image per order id in this batch (deleted ones are in `orderDeletes`).
    public var orderUpserts: [Upsert<OrderRow>] = []
    public var orderDeletes: [Int64] = []
    public var executionUpserts: [Upsert<ExecutionRow>] = []
    public var executionDeletes: [Int64] = []
    /// Users whose statistics this batch may change (before and after images' customer ids).
    public var affectedUsers: [Int64] = []
    public var rejects: [SinkReject] = []
    public var tombstones = 0
    /// The next offset to read per partition, after this batch.
    public var nextOffsets: [RecordPosition] = []

    public var rowCount: Int { orderHistory.count + executionHistory.count + orderUpserts.count + orderDeletes.count
        + executionUpserts.count + executionDeletes.count + rejects.count }

    /// Plans a batch: history rows for every change; for the current tables the net effect of
    /// the batch per key (the last change wins, since changes of one key arrive in order), so
    /// one multi-row upsert and one delete apply it; the users whose statistics to recompute.
    public init(_ changes: [SinkChange]) {
        self.changes = changes
        var lastOrder: [Int64: (ChangeEvent<OrderRow>, RecordPosition)] = [:]
        var orderOrder: [Int64] = []
        var lastExecution: [Int64: (ChangeEvent<ExecutionRow>, RecordPosition)] = [:]
        var executionOrder: [Int64] = []
        var users: Set<Int64> = []
        var next: [String: RecordPosition] = [:]
        for change in changes {
            let p = change.position
            let k = "\(p.topic)\u{0}\(p.partition)"
            if (next[k]?.offset ?? -1) < p.offset + 1 { next[k] = RecordPosition(topic: p.topic, partition: p.partition, offset: p.offset + 1) }
            switch change {
            case .order(let e, let p):
                orderHistory.append(History(id: e.row.orderId, op: e.op.rawValue, before: e.beforeJSON, after: e.afterJSON,
                                            sourceTsMs: e.source.tsMs, position: p))
                if lastOrder[e.row.orderId] == nil { orderOrder.append(e.row.orderId) }
                lastOrder[e.row.orderId] = (e, p)
                if let b = e.before { users.insert(b.customerId) }
                if let a = e.after { users.insert(a.customerId) }
            case .execution(let e, let p):
                executionHistory.append(History(id: e.row.executionId, op: e.op.rawValue, before: e.beforeJSON, after: e.afterJSON,
                                                sourceTsMs: e.source.tsMs, position: p))
                if lastExecution[e.row.executionId] == nil { executionOrder.append(e.row.executionId) }
                lastExecution[e.row.executionId] = (e, p)
            case .tombstone:
                tombstones += 1
            case .reject(let r):
                rejects.append(r)
            }
        }
        for id in orderOrder {
            let (e, p) = lastOrder[id]!
            if e.op == .delete { orderDeletes.append(id) } else { orderUpserts.append(Upsert(row: e.after!, sourceTsMs: e.source.tsMs, position: p)) }
        }
        for id in executionOrder {
            let (e, p) = lastExecution[id]!
            if e.op == .delete { executionDeletes.append(id) } else { executionUpserts.append(Upsert(row: e.after!, sourceTsMs: e.source.tsMs, position: p)) }
        }
        affectedUsers = users.sorted()
        nextOffsets = next.values.sorted()
    }
}
