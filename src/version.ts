// The version this build reports (`murmur version`, /v1/agent/self); package.json's version.
export const VERSION = '0.1.0'
