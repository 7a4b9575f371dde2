import Foundation

/// What the end-to-end tests share: where the package and its embedded data
/// are, and how to run a built executable.
public enum TestSupport {
    /// The package root (this file is `Tests/TestSupport/TestSupport.swift`).
    public static let packageRoot: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.standardized.path
    }()

    /// The embedded CIFAR-10 subset.
    public static var miniCIFAR: String { packageRoot + "/data/cifar10-mini" }

    /// The built executable `name`, looked up next to the test bundle (the same
    /// build directory), falling back to `.build/debug`.
    public static func executable(_ name: String) -> String {
        var candidates: [URL] = [URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()]
        if let exe = Bundle.main.executableURL { candidates.append(exe.deletingLastPathComponent()) }
        candidates.append(Bundle.main.bundleURL)
        for dir in candidates {
            var d = dir
            for _ in 0..<4 {
                let path = d.appendingPathComponent(name).path
                if FileManager.default.isExecutableFile(atPath: path) { return path }
                d.deleteLastPathComponent()
            }
        }
        return packageRoot + "/.build/debug/" + name
    }

    /// Runs `executable` with `args` (and extra environment); returns its exit status and output.
    public static func run(_ executable: String, _ args: [String], env: [String: String] = [:]) throws
        -> (status: Int32, out: String, err: String)
    {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = args
        var environment = ProcessInfo.processInfo.environment
        for (k, v) in env { environment[k] = v }
        p.environment = environment
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }
}
