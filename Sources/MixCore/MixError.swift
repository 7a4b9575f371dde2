/// The one error type of mixshards: a single line a person can act on.
///
/// Every failure that reaches a user names what it is about (a file, a chunk,
/// a pipeline key) in `message`; the commands print it as `error: <message>`
/// and exit non-zero.
public struct MixError: Error, CustomStringConvertible, Equatable, Sendable {
    public let message: String

    public init(_ message: String) {
        self.message = message
    }

    /// An error about a file: `"<path>: <what>"`.
    public static func file(_ path: String, _ what: String) -> MixError {
        MixError("\(path): \(what)")
    }

    public var description: String { message }
}

extension MixError {
    /// One line for a failure to decode JSON: the key path and what was wrong
    /// (`key train[0].epoch: Expected to decode Int but found a string instead.`),
    /// instead of Swift's `DecodingError` dump.
    public static func describe(decoding error: Error) -> String {
        guard let e = error as? DecodingError else { return oneLine("\(error)") }
        func path(_ keys: [CodingKey]) -> String {
            var s = ""
            for k in keys {
                if let i = k.intValue, k.stringValue == "Index \(i)" { s += "[\(i)]" } else { s += (s.isEmpty ? "" : ".") + k.stringValue }
            }
            return s
        }
        let text: String
        switch e {
        case .keyNotFound(let key, let c):
            text = "missing key \(path(c.codingPath + [key]))"
        case .typeMismatch(_, let c), .valueNotFound(_, let c), .dataCorrupted(let c):
            text = (c.codingPath.isEmpty ? "" : "key \(path(c.codingPath)): ") + c.debugDescription
        @unknown default:
            text = "\(e)"
        }
        // Swift's names for JSON objects and arrays, in the words of JSON.
        return oneLine(text).replacing("Dictionary<String, Any>", with: "an object")
            .replacing("Array<Any>", with: "an array")
    }

    static func oneLine(_ s: String) -> String {
        s.split(whereSeparator: \.isNewline).joined(separator: " ")
    }
}
