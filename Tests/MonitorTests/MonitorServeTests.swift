import Foundation
import Manifest
import Monitor
import TestSupport
import XCTest
@testable import Render

/// `cdcctl monitor` without --listen serves on the manifest's monitor.port, the port the rendered
/// Prometheus scrapes; a port already held is refused naming that field. Every collector is
/// skipped: what is served, not what is collected, is under test here.
final class MonitorServeTests: XCTestCase {
    func testServesOnTheManifestsMonitorPortThatPrometheusScrapes() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let port = try TestSupport.freePort()
        let manifest = dir + "/cdcctl.yaml"
        try "apiVersion: cdcctl/v1\ncluster: {name: mon-serve}\nmonitor:\n  port: \(port)\n".write(toFile: manifest, atomically: true, encoding: .utf8)
        let m = try ManifestLoader.load(path: manifest).manifest
        let rendered = try Renderer(templates: TemplateSource(directories: [TestSupport.repo + "/templates"])).render(m, secrets: Promtool.secrets)
        let scrape = try XCTUnwrap(rendered.first { $0.path == "prometheus/prometheus.yml" }?.contents)
        XCTAssertTrue(scrape.contains("- targets: [\"host.docker.internal:\(port)\"]"), scrape)

        let skip = MonitorOperation.collectorNames.flatMap { ["--skip", $0] }
        let monitor = Process()
        monitor.executableURL = URL(fileURLWithPath: TestSupport.cdcctlBinary)
        monitor.arguments = ["monitor", "-m", manifest, "--state-dir", dir + "/state"] + skip
        monitor.standardOutput = FileHandle.nullDevice
        monitor.standardError = FileHandle.nullDevice
        try monitor.run()
        defer { if monitor.isRunning { kill(monitor.processIdentifier, SIGKILL) } }
        var text = ""
        for _ in 0..<50 where !text.contains("cdcctl_monitor_scrape_duration_seconds") {
            text = (try? TestSupport.run("/usr/bin/curl", ["-s", "--max-time", "2", "http://127.0.0.1:\(port)/metrics"]).output) ?? ""
            if !text.contains("cdcctl_monitor_scrape_duration_seconds") { Thread.sleep(forTimeInterval: 0.2) }
        }
        XCTAssertTrue(text.contains("cdcctl_monitor_scrape_duration_seconds"), "served on monitor.port \(port): \(text)")

        let second = try CLI(directory: dir).separately(["monitor", "-m", manifest] + skip)
        XCTAssertEqual(second.status, 2, second.stdout + second.stderr)
        XCTAssertTrue(second.stderr.contains("monitor.port") && second.stderr.contains("cannot listen on 127.0.0.1:\(port)"), second.stderr)

        kill(monitor.processIdentifier, SIGTERM)
        monitor.waitUntilExit()
        XCTAssertEqual(monitor.terminationStatus, 0)
    }
}
