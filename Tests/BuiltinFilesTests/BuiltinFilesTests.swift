import BuiltinFiles
import Foundation
import TestSupport
import XCTest

/// The binary carries templates/ and manifests/ compiled in; this fails while the compiled copy
/// differs from the files in the tree (run scripts/embed-builtin-files after editing them).
final class BuiltinFilesTests: XCTestCase {
    func files(_ folder: String) throws -> [String: String] {
        let base = TestSupport.repo + "/" + folder
        var out: [String: String] = [:]
        for path in try FileManager.default.subpathsOfDirectory(atPath: base) {
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: base + "/" + path, isDirectory: &isDir), !isDir.boolValue else { continue }
            out[path] = try String(contentsOfFile: base + "/" + path, encoding: .utf8)
        }
        return out
    }

    func testCompiledCopiesMatchTheTree() throws {
        for (folder, embedded) in [("templates", BuiltinFiles.templates), ("manifests", BuiltinFiles.manifests)] {
            let tree = try files(folder)
            XCTAssertEqual(Set(embedded.keys), Set(tree.keys), "\(folder): run scripts/embed-builtin-files")
            for (path, text) in tree where embedded[path] != text {
                XCTFail("\(folder)/\(path) differs from the compiled copy: run scripts/embed-builtin-files")
            }
        }
        XCTAssertNotNil(BuiltinFiles.templates["docker-compose.yml.mustache"])
        XCTAssertNotNil(BuiltinFiles.manifests["default.yaml"])
    }
}
