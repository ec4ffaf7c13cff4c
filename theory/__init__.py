"""collective_action.theory"""
