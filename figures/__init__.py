"""collective_action.figures"""
