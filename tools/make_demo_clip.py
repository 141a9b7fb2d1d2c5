"""Re-create src/omnimotion/assets/demo.mp4, the clip `omnimotion demo` runs on (our own synthetic render,
so it can ship under the package licence)."""

from pathlib import Path

from omnimotion.synthetic import make_clip, write_video

if __name__ == "__main__":
    clip = make_clip(num_frames=24, height=128, width=128, num_sprites=2, motion="mixed", seed=3)
    target = Path(__file__).resolve().parents[1] / "src" / "omnimotion" / "assets" / "demo.mp4"
    write_video(clip, target, fps=10)
    print(target, target.stat().st_size, "bytes")
