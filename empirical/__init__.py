"""collective_action.empirical"""
