import Diagnostics
import Foundation
import MySQL

/// Writes order steps to MySQL, one transaction per step, as the application user. Thin: the
/// SQL for each step and the bookkeeping of MySQL's order ids; retries are the runner's.
public struct MySQLOrderSink: OrderSink {
    public let endpoint: MySQLEndpoint
    var connection: MySQLConnection?
    /// The generator's order number → MySQL's `order_id`, known once the INSERT committed.
    public private(set) var orderIds: [Int: UInt64] = [:]
    public private(set) var connects = 0

    public init(_ endpoint: MySQLEndpoint) { self.endpoint = endpoint }

    mutating func connected() throws -> MySQLConnection {
        if let connection { return connection }
        let c = try MySQLConnection(endpoint, timeoutSeconds: 3)
        // Every statement opens a transaction that lasts until COMMIT/ROLLBACK: one step, one
        // transaction, without a START TRANSACTION round trip per step.
        try c.query("SET SESSION autocommit = 0")
        connection = c
        connects += 1
        return c
    }

    public mutating func write(_ step: OrderStep) throws {
        let c = try connected()
        var insertedId: UInt64?
        do {
            switch step {
            case let .place(_, customer, symbol, side, quantity, price):
                let r = try c.query("INSERT INTO orders (customer_id, symbol, side, order_type, quantity, price, status) VALUES ("
                    + "\(customer), '\(c.escape(symbol))', '\(side)', 'LIMIT', \(quantity), \(price), 'NEW')")
                insertedId = r.lastInsertId
            case let .execute(order, symbol, quantity, price, fills):
                let id = try known(order)
                try c.query("INSERT INTO order_executions (order_id, symbol, quantity, price) VALUES (\(id), '\(c.escape(symbol))', \(quantity), \(price))")
                // updated_at set by MySQL, explicitly: a second partial execution changes no other column, and
                // without a change the binlog has no row event for it. Two partials of one order within
                // the same millisecond would still leave the row unchanged (bench e2e saw it at 100/s), so
                // updated_at moves at least 1 ms forward: every step is exactly one change event.
                try c.query("UPDATE orders SET status = '\(fills ? "FILLED" : "PARTIALLY_FILLED")', "
                    + "updated_at = GREATEST(CURRENT_TIMESTAMP(3), updated_at + INTERVAL 1000 MICROSECOND) WHERE order_id = \(id)")
            case let .cancel(order):
                try c.query("UPDATE orders SET status = 'CANCELLED' WHERE order_id = \(try known(order))")
            case let .delete(order):
                let id = try known(order)
                try c.query("DELETE FROM order_executions WHERE order_id = \(id)")
                try c.query("DELETE FROM orders WHERE order_id = \(id)")
            }
        } catch {
            // Not committed: roll back, and drop a connection that may be broken.
            if (try? c.query("ROLLBACK")) == nil { connection = nil }
            if let e = error as? MySQLError, e.isTransient { connection = nil }
            throw error
        }
        do {
            try c.query("COMMIT")
        } catch let e as MySQLError {
            connection = nil
            // The server may have committed before the connection broke: unknown.
            if e.code == MySQLError.Code.lostConnection || e.code == MySQLError.Code.serverGone {
                throw OrderWriteFailure(indeterminate: true, underlying: e.description)
            }
            throw e
        }
        if let insertedId { orderIds[step.order] = insertedId }
        if case let .delete(order) = step { orderIds[order] = nil }
    }

    func known(_ order: Int) throws -> UInt64 {
        guard let id = orderIds[order] else {
            throw CdcError.failed("order \(order) has no MySQL id (its INSERT did not commit)", subject: "produce orders")
        }
        return id
    }
}

/// Creates (or updates) the least-privilege application user as root, as the rendered
/// `003-app-user.sh` does on a fresh container: for servers cdcctl did not start (the testbed).
public enum AppUser {
    public static func statements(user: String, password: String, database: String) -> [String] {
        ["CREATE USER IF NOT EXISTS '\(user)'@'%' IDENTIFIED BY '\(password)'",
         "ALTER USER '\(user)'@'%' IDENTIFIED BY '\(password)'",
         "GRANT SELECT, INSERT, UPDATE, DELETE ON `\(database)`.* TO '\(user)'@'%'"]
    }

    public static func ensure(root: MySQLEndpoint, user: String, password: String, database: String) throws {
        let c = try MySQLConnection(root)
        for s in statements(user: user, password: password, database: database) { try c.query(s) }
    }
}
