<?php
declare(strict_types=1);

namespace Bench;

/** @implements \IteratorAggregate<int, mixed> */
final class Collection implements \IteratorAggregate, \Countable
{
    /** @param list<mixed> $items */
    public function __construct(private array $items)
    {
    }

    public function filter(callable $fn): self
    {
        return new self(array_values(array_filter($this->items, $fn)));
    }

    public function map(callable $fn): self
    {
        return new self(array_map($fn, $this->items));
    }

    public function sort(callable $fn): self
    {
        $items = $this->items;
        usort($items, $fn);
        return new self($items);
    }

    public function slice(int $offset, int $length): self
    {
        return new self(array_slice($this->items, $offset, $length));
    }

    public function first(callable $fn): mixed
    {
        foreach ($this->items as $item) {
            if ($fn($item)) {
                return $item;
            }
        }
        return null;
    }

    public function count(): int
    {
        return count($this->items);
    }

    public function getIterator(): \ArrayIterator
    {
        return new \ArrayIterator($this->items);
    }
}
