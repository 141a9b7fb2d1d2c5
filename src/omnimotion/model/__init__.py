"""omnimotion.model"""
