import Checksum
import Diagnostics
import Foundation

/// Writes a finished render into the output directory. Nothing is written until every file
/// rendered; each file is replaced atomically.
public enum OutputWriter {
    public static func write(_ files: [RenderedFile], to directory: String) throws -> [WrittenFile] {
        var records: [WrittenFile] = []
        for file in files {
            let bytes = Array(file.contents.utf8)
            try AtomicFile.write(bytes, to: directory + "/" + file.path, mode: file.mode)
            records.append(WrittenFile(path: file.path, sha256: SHA256.hex(bytes), bytes: bytes.count, mode: file.mode))
        }
        return records
    }
}

public struct WrittenFile: Sendable, Codable, Equatable {
    public var path: String
    public var sha256: String
    public var bytes: Int
    public var mode: Int
}
