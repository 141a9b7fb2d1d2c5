"""omnimotion.viz"""
