"""omnimotion.flow"""
