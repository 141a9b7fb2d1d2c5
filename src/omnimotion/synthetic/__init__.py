"""omnimotion.synthetic"""
