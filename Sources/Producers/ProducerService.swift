import Telemetry

/// A producer's loop as a Telemetry `Service`, so producers share the processor's one signal
/// mechanism (`ServiceHost`): the first SIGTERM/SIGINT sets the `StopFlag` the loop polls — it
/// stops the source, flushes or finishes the step, and the summary is printed; a second one
/// exits at once.
final class ProducerService<Result>: Service {
    let name: String
    let body: (StopFlag) throws -> Result
    var result: Result?

    init(name: String, body: @escaping (StopFlag) throws -> Result) {
        self.name = name
        self.body = body
    }

    func run(until stop: StopFlag) throws { result = try body(stop) }

    static func run(name: String, stop: StopFlag, log: @escaping (String) -> Void, _ body: @escaping (StopFlag) throws -> Result) throws -> Result {
        let service = ProducerService(name: name, body: body)
        try ServiceHost.run(service, stop: stop, log: log)
        return service.result!
    }
}
