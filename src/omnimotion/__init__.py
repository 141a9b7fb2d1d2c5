"""omnimotion: track every pixel of a video through the whole video, through occlusions."""

__version__ = "0.3.0"

__all__ = ["__version__"]
