import Diagnostics
import Foundation
import Telemetry
import TestSupport
import XCTest

/// The shared shape of long-running work: signals → drain → exit, and a metrics server that
/// validates its port instead of trapping.
final class TelemetryTests: XCTestCase {
    final class CountingService: Service {
        let name = "counting"
        var loops = 0
        var drained = false
        func run(until stop: StopFlag) throws {
            while !stop.isSet && loops < 500 {
                loops += 1
                Thread.sleep(forTimeInterval: 0.01)
            }
            drained = true
        }
    }

    /// The stack's Prometheus runs in a container and reaches host processes as
    /// host.docker.internal (Docker's host-gateway: the docker0 bridge's address). The processor's,
    /// the sampler's and the monitor's listener answer there as well as on loopback, and nowhere else.
    func testScrapedByTheStackListensOnLoopbackAndTheDockerBridge() throws {
        guard let bridge = HostGateway.dockerBridgeIPv4() else {
            try TestSupport.missing("a docker0 bridge", fix: "scripts/docker-testbed up (its dockerd makes one)")
        }
        let port = try TestSupport.freePort()  // a random pick in the ephemeral range once met a client's port
        let server = try MetricsServer.scrapedByTheStack(port: port, source: "test") { "up 1\n" }
        XCTAssertEqual(server.addresses, ["127.0.0.1", bridge])
        for host in server.addresses {
            let r = try TestSupport.run("/usr/bin/curl", ["-sS", "--max-time", "5", "http://\(host):\(port)/metrics"])
            XCTAssertEqual(r.output, "up 1\n", "via \(host)")
        }
        // Not on every interface: the host's other addresses do not answer.
        let other = try TestSupport.run("/bin/bash", ["-c", "hostname -I"]).output.split(separator: " ").map(String.init)
            .filter { !$0.isEmpty && $0 != bridge && !$0.hasPrefix("127.") && !$0.contains(":") }
        for host in other.prefix(1) {
            let r = try TestSupport.run("/usr/bin/curl", ["-sS", "--max-time", "3", "http://\(host.trimmingCharacters(in: .whitespacesAndNewlines)):\(port)/metrics"])
            XCTAssertNotEqual(r.status, 0, "answered on \(host)")
        }
        // No bridge: loopback only, and a bridge address it cannot bind is skipped, not fatal.
        let bare = try MetricsServer.scrapedByTheStack(port: try TestSupport.freePort(), source: "test", bridge: "192.0.2.254") { "" }
        XCTAssertEqual(bare.addresses, ["127.0.0.1"])
    }

    func testSIGTERMAsksTheServiceToDrain() throws {
        let service = CountingService()
        let stop = StopFlag()
        DispatchQueue.global().asyncAfter(deadline: .now() + 0.3) { kill(getpid(), SIGTERM) }
        var lines: [String] = []
        try ServiceHost.run(service, stop: stop) { lines.append($0) }
        XCTAssertTrue(service.drained)
        XCTAssertLessThan(service.loops, 500, "it stopped on the signal, not at the end of its work")
        XCTAssertEqual(stop.reason, "SIGTERM")
        XCTAssertTrue(lines.contains { $0.contains("counting: SIGTERM, draining") }, "\(lines)")
    }

    func testStopFlagKeepsTheFirstReason() {
        let stop = StopFlag()
        XCTAssertFalse(stop.isSet)
        XCTAssertFalse(stop.set(reason: "SIGINT"))
        XCTAssertTrue(stop.set(reason: "SIGTERM"), "already set")
        XCTAssertEqual(stop.reason, "SIGINT")
    }

    func testMetricsPortsOutsideTheTCPRangeAreBadInputNamingTheirSource() {
        for port in [0, -1, 65536, 70000] {
            XCTAssertThrowsError(try MetricsServer(port: port, source: "--metrics-port") { "" }) { error in
                let e = error as? CdcError
                XCTAssertEqual(e?.exitCode, 2)
                XCTAssertEqual(e?.subject, "--metrics-port")
                XCTAssertTrue(e?.message.contains("outside 1–65535") ?? false, "\(error)")
            }
        }
        XCTAssertThrowsError(try MetricsServer.validatePort(99999, source: "processor.metricsPort")) { error in
            XCTAssertEqual((error as? CdcError)?.subject, "processor.metricsPort")
        }
    }

    func testTheMetricsServerAnswersAndSurvivesAClientThatLeaves() throws {
        let port = 19950 + Int.random(in: 0..<40)
        let server = try MetricsServer(port: port) { String(repeating: "x", count: 1_000_000) }
        // A client that sends the request and closes at once: writing to it must not SIGPIPE us.
        for _ in 0..<3 {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_port = in_port_t(UInt16(port).bigEndian)
            addr.sin_addr.s_addr = inet_addr("127.0.0.1")
            let connected = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
            XCTAssertEqual(connected, 0)
            let request = Array("GET /metrics HTTP/1.0\r\n\r\n".utf8)
            _ = request.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            close(fd)
        }
        Thread.sleep(forTimeInterval: 0.3)
        let r = try TestSupport.run("/usr/bin/curl", ["-fsS", "http://127.0.0.1:\(port)/metrics"])
        XCTAssertEqual(r.status, 0)
        XCTAssertTrue(r.output.hasPrefix("xxxx") && r.output.count >= 1_000_000, "still serving")
        _ = server
    }
}
