import Diagnostics
import Foundation

/// Writes files so a reader never sees half of one: write a temp file beside the target with
/// the final mode, fsync, then rename over the target.
public enum AtomicFile {
    public static func write(_ text: String, to path: String, mode: Int = 0o644) throws {
        try write(Array(text.utf8), to: path, mode: mode)
    }

    public static func write(_ bytes: [UInt8], to path: String, mode: Int) throws {
        let dir = (path as NSString).deletingLastPathComponent
        do {
            try FileManager.default.createDirectory(atPath: dir.isEmpty ? "." : dir, withIntermediateDirectories: true)
        } catch {
            throw CdcError.failed("cannot create directory \(dir): \(error.localizedDescription)", subject: path,
                                  fix: "check the parent directory is writable")
        }
        let temp = "\(dir.isEmpty ? "." : dir)/.\((path as NSString).lastPathComponent).tmp-\(getpid())"
        // Created with the final mode from the start, so a secret is never world-readable.
        let fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC, mode_t(mode))
        guard fd >= 0 else {
            throw CdcError.failed("cannot write \(temp): \(String(cString: strerror(errno)))", subject: path,
                                  fix: "check the directory is writable and the disk is not full")
        }
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Foundation.write(fd, $0.baseAddress, $0.count) }
            if n <= 0 {
                let message = String(cString: strerror(errno))
                close(fd)
                unlink(temp)
                throw CdcError.failed("cannot write \(path): \(message)", subject: path, fix: "check free disk space")
            }
            offset += n
        }
        fchmod(fd, mode_t(mode))
        fsync(fd)
        close(fd)
        guard rename(temp, path) == 0 else {
            let message = String(cString: strerror(errno))
            unlink(temp)
            throw CdcError.failed("cannot move \(temp) into place: \(message)", subject: path)
        }
    }
}
