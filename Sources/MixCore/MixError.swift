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
