import Foundation
import Manifest
import TestSupport
import XCTest
@testable import HostServices

/// The rendered units, checked by systemd's own parser (`systemd-analyze verify`, Debian's
/// systemd 252): every line understood, the binary executable. Nothing is installed or started
/// on this host (no /etc writes, no systemctl).
final class SystemdUnitsTests: XCTestCase {
    func units(_ dir: String) throws -> [SystemdUnits.Unit] {
        let m = try ManifestLoader.load(path: TestSupport.repo + "/manifests/default.yaml").manifest
        try "apiVersion: cdcctl/v1\n".write(toFile: dir + "/my cdcctl.yaml", atomically: true, encoding: .utf8)
        return SystemdUnits.units(m, paths: UnitPaths(binary: TestSupport.cdcctlBinary, manifest: dir + "/my cdcctl.yaml", stateDir: dir + "/state"))
    }

    func testUnitsRestartAlwaysWithTheManifestsMemoryLimitAndItsPaths() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let m = try ManifestLoader.load(path: TestSupport.repo + "/manifests/default.yaml").manifest
        let u = try units(dir)
        XCTAssertEqual(u.map(\.name), ["processor", "orders", "trades", "monitor"].map { "cdcctl-\(m.cluster.name)-\($0).service" })
        let processor = u[0].contents
        XCTAssertTrue(processor.contains("\nRestart=always\n"), processor)
        XCTAssertTrue(processor.contains("\nMemoryMax=\(m.processor.memoryMiB)M\n"), processor)
        XCTAssertTrue(processor.contains("\nAfter=docker.service network-online.target\n"), processor)
        XCTAssertTrue(processor.contains("\nStandardError=journal\n"), processor)
        // A path with a space is one word for systemd.
        XCTAssertTrue(processor.contains("ExecStart=\(TestSupport.cdcctlBinary) process run --manifest \"\(dir)/my cdcctl.yaml\" --state-dir \(dir)/state\n"), processor)
        XCTAssertTrue(u[1].contents.contains("MemoryMax=\(m.producers.orders.memoryMiB)M"))
        XCTAssertTrue(u.allSatisfy { $0.contents.contains("\nEnvironment=MALLOC_ARENA_MAX=2\n") }, "two malloc arenas for every long-running unit")
        // The monitor's default listener (loopback + the Docker bridge), not every interface.
        XCTAssertTrue(u[3].contents.contains(" monitor --manifest "), u[3].contents)
        XCTAssertFalse(u[3].contents.contains("0.0.0.0"), u[3].contents)
    }

    func testRenderedUnitsPassSystemdAnalyzeVerify() throws {
        let analyze = try TestSupport.tool("systemd-analyze", env: "CDCCTL_SYSTEMD_ANALYZE")
        let dir = try TestSupport.temporaryDirectory(self)
        guard FileManager.default.isExecutableFile(atPath: TestSupport.cdcctlBinary) else {
            try TestSupport.missing("the cdcctl binary at \(TestSupport.cdcctlBinary)", fix: "swift build first")
        }
        var paths: [String] = []
        for unit in try units(dir) {
            let path = dir + "/" + unit.name
            try unit.contents.write(toFile: path, atomically: true, encoding: .utf8)
            paths.append(path)
        }
        let ok = try TestSupport.run(analyze, ["verify", "--man=no"] + paths)
        XCTAssertEqual(ok.status, 0, ok.output)
        // verify only warns on a value it does not understand: the output must be empty too.
        XCTAssertEqual(ok.output.trimmingCharacters(in: .whitespacesAndNewlines), "", ok.output)
        // The verifier is real: a broken unit is reported.
        let broken = dir + "/cdcctl-broken.service"
        try (try String(contentsOfFile: paths[0], encoding: .utf8)).replacingOccurrences(of: "MemoryMax=", with: "MemoryMax=lots")
            .replacingOccurrences(of: "Restart=always", with: "Restart=sometimes").write(toFile: broken, atomically: true, encoding: .utf8)
        let bad = try TestSupport.run(analyze, ["verify", "--man=no", broken])
        XCTAssertTrue(bad.output.contains("Invalid memory limit") && bad.output.contains("restart specifier"), bad.output)
    }

    func testSystemctlShowIsParsed() {
        let text = "Id=cdcctl-cdc-processor.service\nLoadState=loaded\nActiveState=active\nSubState=running\nNRestarts=2\n\nId=cdcctl-cdc-monitor.service\nLoadState=loaded\nActiveState=failed\nSubState=failed\nNRestarts=0\n"
        XCTAssertEqual(SystemdStatus.parse(text), [
            UnitState(unit: "cdcctl-cdc-processor.service", loadState: "loaded", activeState: "active", subState: "running", restarts: 2),
            UnitState(unit: "cdcctl-cdc-monitor.service", loadState: "loaded", activeState: "failed", subState: "failed", restarts: 0),
        ])
        XCTAssertNil(SystemdStatus.read(cluster: "none-\(UUID().uuidString)", unitDir: NSTemporaryDirectory()))
    }
}
