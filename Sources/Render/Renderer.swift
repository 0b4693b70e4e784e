import Diagnostics
import Foundation
import Manifest
import Mustache

/// One file produced by a render, still in memory.
public struct RenderedFile: Sendable, Equatable {
    public var path: String
    public var contents: String
    /// POSIX mode: 0o600 for files that hold secrets, 0o644 otherwise.
    public var mode: Int

    public init(path: String, contents: String, mode: Int = 0o644) {
        self.path = path
        self.contents = contents
        self.mode = mode
    }
}

/// Where templates come from: the user's `--templates DIR` first, then the built-in set, so a
/// user overrides a single file without copying the rest.
public struct TemplateSource: Sendable {
    /// Searched first, in order (`--templates DIR` overrides single files).
    public var directories: [String]
    /// The built-in templates by relative path, after the directories.
    public var embedded: [String: String]

    public init(directories: [String], embedded: [String: String] = [:]) {
        self.directories = directories
        self.embedded = embedded
    }

    func text(_ relativePath: String) throws -> String {
        for dir in directories {
            let path = dir + "/" + relativePath
            if let data = FileManager.default.contents(atPath: path) {
                guard let text = String(data: data, encoding: .utf8) else {
                    throw CdcError.invalid("template is not UTF-8 text", subject: path)
                }
                return text
            }
        }
        if let text = embedded[relativePath] { return text }
        throw CdcError.invalid("template \(relativePath) not found in \((directories + (embedded.isEmpty ? [] : ["the built-in templates"])).joined(separator: ", "))",
                               fix: "restore it from the cdcctl templates/ directory or remove --templates")
    }

    /// Template files under a folder (first directory that has it wins per file name), sorted.
    func files(under folder: String) -> [String] {
        var names: Set<String> = []
        for dir in directories {
            let items = (try? FileManager.default.contentsOfDirectory(atPath: dir + "/" + folder)) ?? []
            for item in items where item.hasSuffix(".mustache") { names.insert(folder + "/" + item) }
        }
        for path in embedded.keys where path.hasPrefix(folder + "/") && path.hasSuffix(".mustache")
            && !path.dropFirst(folder.count + 1).contains("/") {
            names.insert(path)
        }
        return names.sorted()
    }
}

/// Manifest → files. Pure apart from reading templates: same manifest and secrets, same bytes.
public struct Renderer {
    public let templates: TemplateSource

    public init(templates: TemplateSource) {
        self.templates = templates
        Self.registerContentTypes
    }

    /// Renders every output, or with `folder` only those under it (e.g. `clickhouse/migrations`).
    public func render(_ manifest: Manifest, secrets: ResolvedSecrets, under folder: String? = nil) throws -> [RenderedFile] {
        let context = RenderContext.make(manifest, secrets: secrets)
        var files: [RenderedFile] = []
        for output in RenderPlan.outputs(for: manifest, templates: templates) where folder.map({ output.path.hasPrefix($0 + "/") }) ?? true {
            let contents: String
            switch output.source {
            case .template(let name):
                contents = try renderTemplate(name, context: output.context.map { context.merging($0) { _, new in new } } ?? context)
            case .generated(let text):
                contents = text
            }
            files.append(RenderedFile(path: output.path, contents: contents, mode: output.secret ? 0o600 : 0o644))
        }
        return files.sorted { $0.path < $1.path }
    }

    func renderTemplate(_ name: String, context: [String: Any]) throws -> String {
        let text = try templates.text(name)
        let pragma: String
        if name.contains(".json") { pragma = "JSON" } else if name.contains(".yml") || name.contains(".yaml") { pragma = "YAML" } else { pragma = "TEXT" }
        do {
            let template = try MustacheTemplate(string: "{{% CONTENT_TYPE: \(pragma)}}" + text)
            return template.render(context)
        } catch {
            throw CdcError.invalid("template \(name) does not parse: \(error)", subject: name,
                                   fix: "check its {{ }} tags are balanced")
        }
    }

    /// JSON and YAML templates escape `\` and `"` in substituted values (put them inside
    /// double quotes); everything else substitutes verbatim. HTML escaping is never wanted here.
    static let registerContentTypes: Void = {
        MustacheContentTypes.register(QuotedStringContent(), named: "JSON")
        MustacheContentTypes.register(QuotedStringContent(), named: "YAML")
    }()
}

struct QuotedStringContent: MustacheContentType {
    func escapeText(_ text: String) -> String {
        var out = ""
        for ch in text {
            switch ch {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            default: out.append(ch)
            }
        }
        return out
    }
}
