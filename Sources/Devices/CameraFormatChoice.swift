import VitalsCore

/// What the configuration asks of the camera.
public struct CameraRequest: Sendable, Hashable {
    /// Frame width asked for.
    public var width: Int
    /// Frame height asked for.
    public var height: Int
    /// Frames per second asked for.
    public var fps: Int
    /// `auto`, or a format to prefer: `yuyv`, `nv12`, `mjpeg`.
    public var preferred: String

    /// Creates a request.
    public init(width: Int, height: Int, fps: Int, preferred: String = "auto") {
        self.width = width
        self.height = height
        self.fps = fps
        self.preferred = preferred
    }
}

/// One pixel format at one frame size that a camera offers.
public struct CameraMode: Sendable, Hashable, CustomStringConvertible {
    /// The V4L2 four-character code, e.g. `YUYV`.
    public var fourcc: String
    /// Width in pixels.
    public var width: Int
    /// Height in pixels.
    public var height: Int

    /// Creates a mode.
    public init(fourcc: String, width: Int, height: Int) {
        self.fourcc = fourcc
        self.width = width
        self.height = height
    }

    /// E.g. `YUYV 640x480`.
    public var description: String { "\(fourcc) \(width)x\(height)" }
}

/// Chooses the camera mode: the pure decision behind format negotiation.
public enum CameraFormatChoice {
    /// The four-character codes the vitals engine reads directly, by preference: YUYV first
    /// (every UVC camera has it), then NV12, then the rest.
    public static let readable: [(fourcc: String, format: PixelFormat)] = [
        ("YUYV", .yuyv), ("NV12", .nv12), ("UYVY", .uyvy), ("YU12", .i420), ("RGB3", .rgb24), ("BGR3", .bgr24), ("GREY", .grey),
    ]

    /// The pixel format of a four-character code the engine reads.
    public static func pixelFormat(of fourcc: String) -> PixelFormat? {
        readable.first { $0.fourcc == fourcc }?.format
    }

    /// The compressed format decoded before the engine reads it (libturbojpeg, to RGB24).
    public static let decoded = "MJPG"

    /// The mode to use among `offered`: the requested size in the preferred format if offered,
    /// else in a format the engine reads (in preference order), else as MJPEG (decoded), else
    /// the readable mode nearest in size (MJPEG only when nothing readable is offered).
    ///
    /// - Throws: ``DeviceError/unsupported(_:)`` when the camera offers neither a readable format
    ///   nor MJPEG.
    public static func choose(from offered: [CameraMode], request: CameraRequest) throws(DeviceError) -> CameraMode {
        var order = readable.map(\.fourcc) + [decoded]
        let preferred = request.preferred == "mjpeg" ? decoded : request.preferred.uppercased()
        if let index = order.firstIndex(of: preferred) { order.insert(order.remove(at: index), at: 0) }
        let usable = offered.filter { order.contains($0.fourcc) }
        guard !usable.isEmpty else {
            let formats = Set(offered.map(\.fourcc)).sorted().joined(separator: ", ")
            throw .unsupported("the camera offers \(formats.isEmpty ? "no formats" : formats); usable: \(order.joined(separator: ", "))")
        }
        func rank(_ mode: CameraMode) -> Int { order.firstIndex(of: mode.fourcc) ?? order.count }
        if let exact = usable.filter({ $0.width == request.width && $0.height == request.height }).min(by: { rank($0) < rank($1) }) {
            return exact
        }
        let uncompressed = usable.filter { $0.fourcc != decoded }
        let candidates = uncompressed.isEmpty ? usable : uncompressed
        let target = request.width * request.height
        return candidates.min { a, b in
            let da = abs(a.width * a.height - target), db = abs(b.width * b.height - target)
            return da != db ? da < db : rank(a) < rank(b)
        }!
    }
}
