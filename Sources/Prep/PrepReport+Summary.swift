import Foundation

extension PrepReport {
    /// The closing lines of `mixprep run`: what was written, how fast, how small.
    public func summary(directory: String) -> String {
        var lines: [String] = []
        let rate = seconds > 0 ? Double(samplesWritten) / seconds : 0
        lines.append("shards: \(written) written, \(kept) kept (verified)\(redone.isEmpty ? "" : ", \(redone.count) redone") in \(directory)")
        if samplesWritten > 0 {
            lines.append(String(format: "rate: %.0f images/s (%d images in %.2f s)", rate, samplesWritten, seconds))
            lines.append(String(format: "size: %.1f stored bytes/sample vs %.1f raw (%.3f×)",
                                Double(bytesWritten) / Double(samplesWritten), Double(rawBytesWritten) / Double(samplesWritten),
                                Double(bytesWritten) / Double(max(rawBytesWritten, 1))))
        }
        lines.append(manifestWritten ? "manifest: \(directory)/manifest.json" : "manifest: not written (worker share)")
        return lines.joined(separator: "\n")
    }
}
