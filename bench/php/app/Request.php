<?php
declare(strict_types=1);

namespace Bench;

final class Request
{
    /** @param array<string, string> $query */
    public function __construct(
        public readonly string $method,
        public readonly string $path,
        public readonly array $query,
    ) {
    }

    public static function fromGlobals(): self
    {
        $uri = $_SERVER['REQUEST_URI'] ?? '/';
        $path = parse_url($uri, PHP_URL_PATH) ?: '/';
        return new self($_SERVER['REQUEST_METHOD'] ?? 'GET', $path, $_GET);
    }

    public function int(string $name, int $default): int
    {
        $v = $this->query[$name] ?? null;
        return is_numeric($v) ? (int) $v : $default;
    }
}
