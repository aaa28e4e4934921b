<?php
declare(strict_types=1);

namespace Bench;

final class Route
{
    public function __construct(
        public readonly string $pattern,
        public readonly string $controller,
        public readonly string $action,
    ) {
    }

    public function matches(string $path): bool
    {
        return $this->pattern === '*' || $this->pattern === $path;
    }
}
