"""omnimotion.preprocess"""
