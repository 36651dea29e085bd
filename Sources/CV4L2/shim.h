#ifndef HH_CV4L2_SHIM_H
#define HH_CV4L2_SHIM_H
// libv4l2's calls are variadic and the VIDIOC_* codes and fourccs are function-like macros:
// neither imports into Swift, so they are wrapped here.
#include <fcntl.h>
#include <stdint.h>
#include <sys/mman.h>
#include <linux/videodev2.h>
#include <libv4l2.h>

#include <sys/ioctl.h>
#include <unistd.h>

static inline int hh_open(const char *path) { return open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC); }
static inline int hh_close(int fd) { return close(fd); }
/// VIDIOC_QUERYCAP straight to the kernel: tells a V4L2 device from anything else, before libv4l2 sees it.
static inline int hh_querycap_raw(int fd, struct v4l2_capability *value) { return ioctl(fd, VIDIOC_QUERYCAP, value); }
static inline int hh_v4l2_fd_open(int fd) { return v4l2_fd_open(fd, 0); }
static inline int hh_v4l2_close(int fd) { return v4l2_close(fd); }
static inline int hh_querycap(int fd, struct v4l2_capability *value) { return v4l2_ioctl(fd, VIDIOC_QUERYCAP, value); }
static inline int hh_enum_fmt(int fd, struct v4l2_fmtdesc *value) { return v4l2_ioctl(fd, VIDIOC_ENUM_FMT, value); }
static inline int hh_enum_framesizes(int fd, struct v4l2_frmsizeenum *value) { return v4l2_ioctl(fd, VIDIOC_ENUM_FRAMESIZES, value); }
static inline int hh_s_fmt(int fd, struct v4l2_format *value) { return v4l2_ioctl(fd, VIDIOC_S_FMT, value); }
static inline int hh_s_parm(int fd, struct v4l2_streamparm *value) { return v4l2_ioctl(fd, VIDIOC_S_PARM, value); }
static inline int hh_reqbufs(int fd, struct v4l2_requestbuffers *value) { return v4l2_ioctl(fd, VIDIOC_REQBUFS, value); }
static inline int hh_querybuf(int fd, struct v4l2_buffer *value) { return v4l2_ioctl(fd, VIDIOC_QUERYBUF, value); }
static inline int hh_qbuf(int fd, struct v4l2_buffer *value) { return v4l2_ioctl(fd, VIDIOC_QBUF, value); }
static inline int hh_dqbuf(int fd, struct v4l2_buffer *value) { return v4l2_ioctl(fd, VIDIOC_DQBUF, value); }
static inline int hh_streamon(int fd) { int type = V4L2_BUF_TYPE_VIDEO_CAPTURE; return v4l2_ioctl(fd, VIDIOC_STREAMON, &type); }
static inline int hh_streamoff(int fd) { int type = V4L2_BUF_TYPE_VIDEO_CAPTURE; return v4l2_ioctl(fd, VIDIOC_STREAMOFF, &type); }
static inline void *hh_mmap(int fd, size_t length, int64_t offset) {
    return v4l2_mmap(NULL, length, PROT_READ | PROT_WRITE, MAP_SHARED, fd, offset);
}
static inline int hh_munmap(void *start, size_t length) { return v4l2_munmap(start, length); }
static inline void *hh_map_failed(void) { return MAP_FAILED; }

static inline uint32_t hh_fourcc_yuyv(void) { return V4L2_PIX_FMT_YUYV; }
static inline uint32_t hh_fourcc_uyvy(void) { return V4L2_PIX_FMT_UYVY; }
static inline uint32_t hh_fourcc_nv12(void) { return V4L2_PIX_FMT_NV12; }
static inline uint32_t hh_fourcc_yuv420(void) { return V4L2_PIX_FMT_YUV420; }
static inline uint32_t hh_fourcc_rgb24(void) { return V4L2_PIX_FMT_RGB24; }
static inline uint32_t hh_fourcc_bgr24(void) { return V4L2_PIX_FMT_BGR24; }
static inline uint32_t hh_fourcc_grey(void) { return V4L2_PIX_FMT_GREY; }
static inline uint32_t hh_fourcc_mjpeg(void) { return V4L2_PIX_FMT_MJPEG; }
#endif
