import Foundation

/// Writes one line to standard error.
public func printError(_ line: String) {
    FileHandle.standardError.write((line + "\n").data(using: .utf8)!)
}
