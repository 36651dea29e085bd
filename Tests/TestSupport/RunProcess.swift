import Foundation

/// Runs a program to its end and returns its exit status and output. The environment is the
/// test's own with `environment` laid over it. Standard error goes through a file, so a
/// program that writes much to both streams cannot stall on a full pipe.
public func run(_ executable: String, _ arguments: [String], environment: [String: String] = [:]) throws
    -> (status: Int32, stdout: String, stderr: String)
{
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    let errorPath = NSTemporaryDirectory() + "stderr-\(UUID().uuidString)"
    guard FileManager.default.createFile(atPath: errorPath, contents: nil) else {
        throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: errorPath])
    }
    defer { try? FileManager.default.removeItem(atPath: errorPath) }
    let errors = try FileHandle(forWritingTo: URL(fileURLWithPath: errorPath))
    let out = Pipe()
    process.standardOutput = out
    process.standardError = errors
    try process.run()
    let stdout = out.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    try errors.close()
    let stderr = FileManager.default.contents(atPath: errorPath) ?? Data()
    return (process.terminationStatus, String(decoding: stdout, as: UTF8.self), String(decoding: stderr, as: UTF8.self))
}
