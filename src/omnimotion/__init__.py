"""omnimotion: track every pixel of a video through the whole video, through occlusions."""

__version__ = "0.3.1"

__all__ = ["__version__"]
