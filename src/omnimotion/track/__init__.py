"""omnimotion.track"""
