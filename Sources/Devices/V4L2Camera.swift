import CV4L2
import Foundation
import VitalsCore

#if canImport(Glibc)
import Glibc
#endif

/// A camera through V4L2 (libv4l2): format negotiated with ``CameraFormatChoice``,
/// memory-mapped streaming buffers, kernel timestamps on frames.
public final class V4L2Camera: VideoSource {
    /// The device path, e.g. `/dev/video0`.
    public let name: String
    private let request: CameraRequest
    private var descriptor: Int32 = -1
    private var buffers: [(start: UnsafeMutableRawPointer, length: Int)] = []
    private var firstTimestamp: Double?
    /// Set when the camera streams MJPEG: frames are decoded to RGB24 first.
    private var decoder: MJPEGDecoder?
    private var decodedFrame: [UInt8] = []
    private var frameSize = (width: 0, height: 0)
    /// MJPEG frames that could not be decoded and were skipped.
    public private(set) var corruptFrames = 0
    /// How long a frame may take before the camera counts as failed, milliseconds.
    private let frameTimeout: Int32 = 2000

    /// A camera at `path`, negotiated towards `request`.
    public init(path: String, request: CameraRequest) {
        self.name = path
        self.request = request
    }

    deinit { close() }

    public func open() throws(DeviceError) -> VideoStreamFormat {
        close()
        let raw = hh_open(name)
        guard raw >= 0 else {
            let code = errno
            let message = "\(name): \(String(cString: strerror(code)))"
            throw code == ENOENT || code == ENODEV || code == ENXIO ? .missing(message) : .failed(message)
        }
        var probe = v4l2_capability()
        guard hh_querycap_raw(raw, &probe) == 0 else {
            let reason = errorText()
            _ = hh_close(raw)
            throw .unsupported("\(name) is not a V4L2 device (\(reason))")
        }
        let fd = hh_v4l2_fd_open(raw)
        guard fd >= 0 else {
            let reason = errorText()
            _ = hh_close(raw)
            throw .failed("\(name): libv4l2 cannot use it: \(reason)")
        }
        descriptor = fd
        do {
            return try negotiate()
        } catch {
            close()
            throw error
        }
    }

    private func negotiate() throws(DeviceError) -> VideoStreamFormat {
        var capability = v4l2_capability()
        guard hh_querycap(descriptor, &capability) == 0 else { throw .unsupported("\(name) is not a V4L2 device: \(errorText())") }
        let capabilities = capability.capabilities & UInt32(V4L2_CAP_DEVICE_CAPS) != 0 ? capability.device_caps : capability.capabilities
        guard capabilities & UInt32(V4L2_CAP_VIDEO_CAPTURE) != 0, capabilities & UInt32(V4L2_CAP_STREAMING) != 0 else {
            throw .unsupported("\(name) is not a streaming video capture device")
        }
        let mode = try CameraFormatChoice.choose(from: offeredModes(), request: request)
        var format = v4l2_format()
        format.type = V4L2_BUF_TYPE_VIDEO_CAPTURE.rawValue
        format.fmt.pix.width = UInt32(mode.width)
        format.fmt.pix.height = UInt32(mode.height)
        format.fmt.pix.pixelformat = fourcc(mode.fourcc)
        format.fmt.pix.field = V4L2_FIELD_NONE.rawValue
        guard hh_s_fmt(descriptor, &format) == 0 else { throw .unsupported("\(name) refused \(mode): \(errorText())") }
        let granted = fourccText(format.fmt.pix.pixelformat)
        let pixelFormat: PixelFormat
        if granted == CameraFormatChoice.decoded {
            decoder = try MJPEGDecoder()
            pixelFormat = .rgb24
        } else if let readable = CameraFormatChoice.pixelFormat(of: granted) {
            decoder = nil
            pixelFormat = readable
        } else {
            throw .unsupported("\(name) switched to \(granted), which cannot be read")
        }
        frameSize = (Int(format.fmt.pix.width), Int(format.fmt.pix.height))
        var parameters = v4l2_streamparm()
        parameters.type = V4L2_BUF_TYPE_VIDEO_CAPTURE.rawValue
        parameters.parm.capture.timeperframe = v4l2_fract(numerator: 1, denominator: UInt32(request.fps))
        var fps = Double(request.fps)
        if hh_s_parm(descriptor, &parameters) == 0, parameters.parm.capture.timeperframe.numerator > 0 {
            fps = Double(parameters.parm.capture.timeperframe.denominator) / Double(parameters.parm.capture.timeperframe.numerator)
        }
        try mapBuffers(count: 4)
        guard hh_streamon(descriptor) == 0 else { throw .failed("\(name): cannot start streaming: \(errorText())") }
        firstTimestamp = nil
        let stride = decoder == nil && Int(format.fmt.pix.bytesperline) > 0 ? Int(format.fmt.pix.bytesperline) : nil
        let geometry = FrameGeometry(width: frameSize.width, height: frameSize.height, format: pixelFormat, bytesPerLine: stride)
        // JPEG is full range; so is a driver that says so.
        let range: ColourRange = decoder != nil || format.fmt.pix.quantization == UInt32(V4L2_QUANTIZATION_FULL_RANGE.rawValue) ? .full : .limited
        return VideoStreamFormat(geometry: geometry, range: range, nominalFPS: fps)
    }

    /// Every format and frame size the camera lists (stepwise ranges contribute the size
    /// asked for, clamped to the range).
    private func offeredModes() -> [CameraMode] {
        var modes: [CameraMode] = []
        var description = v4l2_fmtdesc()
        description.type = V4L2_BUF_TYPE_VIDEO_CAPTURE.rawValue
        while hh_enum_fmt(descriptor, &description) == 0 {
            let code = description.pixelformat
            var size = v4l2_frmsizeenum()
            size.pixel_format = code
            var any = false
            while hh_enum_framesizes(descriptor, &size) == 0 {
                any = true
                if size.type == V4L2_FRMSIZE_TYPE_DISCRETE.rawValue {
                    modes.append(CameraMode(fourcc: fourccText(code), width: Int(size.discrete.width), height: Int(size.discrete.height)))
                } else {
                    let range = size.stepwise
                    let width = min(max(request.width, Int(range.min_width)), Int(range.max_width))
                    let height = min(max(request.height, Int(range.min_height)), Int(range.max_height))
                    modes.append(CameraMode(fourcc: fourccText(code), width: width, height: height))
                    break
                }
                size.index += 1
            }
            if !any { modes.append(CameraMode(fourcc: fourccText(code), width: request.width, height: request.height)) }
            description.index += 1
        }
        return modes
    }

    private func mapBuffers(count: Int) throws(DeviceError) {
        var requestBuffers = v4l2_requestbuffers()
        requestBuffers.count = UInt32(count)
        requestBuffers.type = V4L2_BUF_TYPE_VIDEO_CAPTURE.rawValue
        requestBuffers.memory = V4L2_MEMORY_MMAP.rawValue
        guard hh_reqbufs(descriptor, &requestBuffers) == 0, requestBuffers.count >= 2 else {
            throw .unsupported("\(name): no memory-mapped streaming buffers: \(errorText())")
        }
        for index in 0..<requestBuffers.count {
            var buffer = v4l2_buffer()
            buffer.type = V4L2_BUF_TYPE_VIDEO_CAPTURE.rawValue
            buffer.memory = V4L2_MEMORY_MMAP.rawValue
            buffer.index = index
            guard hh_querybuf(descriptor, &buffer) == 0 else { throw .failed("\(name): buffer \(index): \(errorText())") }
            guard let start = hh_mmap(descriptor, Int(buffer.length), Int64(buffer.m.offset)), start != hh_map_failed() else {
                throw .failed("\(name): cannot map buffer \(index): \(errorText())")
            }
            buffers.append((start, Int(buffer.length)))
            guard hh_qbuf(descriptor, &buffer) == 0 else { throw .failed("\(name): cannot queue buffer \(index): \(errorText())") }
        }
    }

    public func nextFrame(_ body: (UnsafeRawBufferPointer, Double) -> Void) throws(DeviceError) -> Bool {
        guard descriptor >= 0 else { throw .failed("\(name) is not open") }
        var buffer = v4l2_buffer()
        buffer.type = V4L2_BUF_TYPE_VIDEO_CAPTURE.rawValue
        buffer.memory = V4L2_MEMORY_MMAP.rawValue
        while true {
            var poller = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            let ready = poll(&poller, 1, frameTimeout)
            if ready < 0 && errno == EINTR { continue }
            guard ready > 0 else { throw .failed("\(name): no frame for \(frameTimeout) ms") }
            if poller.revents & Int16(POLLERR | POLLHUP | POLLNVAL) != 0 && poller.revents & Int16(POLLIN) == 0 {
                throw .failed("\(name): device gone")
            }
            if hh_dqbuf(descriptor, &buffer) == 0 { break }
            if errno == EAGAIN || errno == EINTR { continue }
            throw .failed("\(name): \(errorText())")
        }
        let stamp = Double(buffer.timestamp.tv_sec) + Double(buffer.timestamp.tv_usec) * 1e-6
        let time: Double
        if let firstTimestamp { time = stamp - firstTimestamp } else {
            firstTimestamp = stamp
            time = 0
        }
        let mapped = buffers[Int(buffer.index)]
        let pixels = UnsafeRawBufferPointer(start: mapped.start, count: min(Int(buffer.bytesused), mapped.length))
        if let decoder {
            do {
                try decoder.decode(pixels, width: frameSize.width, height: frameSize.height, into: &decodedFrame)
                decodedFrame.withUnsafeBytes { body($0, time) }
            } catch {
                // A damaged frame is skipped, not the end of the stream.
                corruptFrames += 1
            }
        } else {
            body(pixels, time)
        }
        guard hh_qbuf(descriptor, &buffer) == 0 else { throw .failed("\(name): cannot requeue a buffer: \(errorText())") }
        return true
    }

    public func close() {
        guard descriptor >= 0 else { return }
        _ = hh_streamoff(descriptor)
        for buffer in buffers { _ = hh_munmap(buffer.start, buffer.length) }
        buffers = []
        _ = hh_v4l2_close(descriptor)
        descriptor = -1
    }

    private func errorText() -> String { String(cString: strerror(errno)) }
}

/// The V4L2 code of a four-character text.
func fourcc(_ text: String) -> UInt32 {
    text.utf8.prefix(4).enumerated().reduce(0) { $0 | UInt32($1.element) << (8 * UInt32($1.offset)) }
}

/// The four-character text of a V4L2 code.
func fourccText(_ code: UInt32) -> String {
    String(decoding: (0..<4).map { UInt8((code >> (8 * $0)) & 0xFF) }, as: UTF8.self).trimmingCharacters(in: .whitespaces)
}
