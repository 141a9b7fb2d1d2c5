"""omnimotion.cli"""
