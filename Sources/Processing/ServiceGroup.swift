import Foundation
import Telemetry

/// Several services as one: each runs on its own thread until the shared stop flag is set or
/// it is done; the first that fails stops the others, and its error is the group's. One
/// service runs on the caller's thread, without a second thread.
final class ServiceGroup: Service {
    let services: [any Service]
    var name: String { services.map(\.name).joined(separator: "+") }

    init(_ services: [any Service]) { self.services = services }

    func run(until stop: StopFlag) throws {
        if services.count == 1 { return try services[0].run(until: stop) }
        let errors = Errors()
        let group = DispatchGroup()
        for service in services {
            group.enter()
            let box = Unchecked(service)
            let thread = Thread {
                defer { group.leave() }
                do {
                    try box.value.run(until: stop)
                } catch {
                    errors.append(error)
                    _ = stop.set(reason: "\(box.value.name) failed")
                }
            }
            thread.stackSize = 8 << 20
            thread.start()
        }
        group.wait()
        if let first = errors.first { throw first }
    }

    /// Each service is used by its own thread only, until the group joins them.
    final class Unchecked: @unchecked Sendable {
        let value: any Service
        init(_ value: any Service) { self.value = value }
    }

    final class Errors: @unchecked Sendable {
        private var errors: [Error] = []
        private let lock = NSLock()
        func append(_ e: Error) { lock.withLock { errors.append(e) } }
        var first: Error? { lock.withLock { errors.first } }
    }
}
