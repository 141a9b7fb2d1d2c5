"""omnimotion.train"""
