"""omnimotion.eval"""
